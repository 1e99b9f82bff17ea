"""The certificate of volunteer hours, worded in the volunteer's language."""

from __future__ import annotations

from datetime import datetime

from aiogram.utils.i18n import gettext as _

from domain.certificate import CertificateLabels, HoursCertificate, HoursRow, render_certificate
from domain.hours import HoursSummary


def hours_certificate(name: str, summary: HoursSummary, *, issued: datetime, locale: str) -> bytes:
    labels = CertificateLabels(
        title=_("Certificate of volunteer hours"),
        volunteer=_("Volunteer"),
        center=_("Center"),
        month=_("Month"),
        hours=_("Hours"),
        total=_("Total"),
        issued_on=_("Issued on"),
        footer=_("Counted from the shifts the volunteer signed up for and that have ended."),
        confirmed=_("Confirmed by the centers at roll call"),
        unconfirmed=_("Not confirmed yet"),
    )
    certificate = HoursCertificate(
        volunteer_name=name,
        issued_on=issued.date(),
        rows=[HoursRow(center, city, month, hours) for center, city, month, hours in summary.rows],
        total_hours=summary.total,
        confirmed_hours=summary.confirmed_total,
    )
    return render_certificate(certificate, labels, locale)
