"""The Bot API wire format: request parameters in, ``{"ok": ..., "result": ...}`` out.

Parameters come as a query string, a url-encoded form, a multipart form (files included) or a
JSON body. Errors leave as :class:`ApiError` answers with the ``error_code`` and
``description`` Telegram would send.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import aiohttp
from aiohttp import web

__all__ = [
    "ApiError",
    "Params",
    "Upload",
    "api_response",
    "bad",
    "read_multipart",
    "read_params",
]


class ApiError(Exception):
    """A Bot API error answer: ``{"ok": false, "error_code": ..., "description": ...}``."""

    def __init__(self, code: int, description: str, retry_after: int | None = None) -> None:
        super().__init__(description)
        self.code = code
        self.description = description
        self.retry_after = retry_after

    def payload(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "ok": False,
            "error_code": self.code,
            "description": self.description,
        }
        if self.retry_after is not None:
            body["parameters"] = {"retry_after": self.retry_after}
        return body


def bad(description: str) -> ApiError:
    return ApiError(400, f"Bad Request: {description}")


def api_response(result: Any) -> web.Response:
    if isinstance(result, ApiError):
        return web.json_response(result.payload(), status=result.code)
    return web.json_response({"ok": True, "result": result})


@dataclass
class Upload:
    filename: str
    content_type: str | None
    data: bytes


class Params:
    """Bot API parameters: form values are strings, JSON bodies carry native values."""

    def __init__(self, values: dict[str, Any], files: dict[str, Upload]) -> None:
        self.values = values
        self.files = files

    def raw(self, name: str) -> Any:
        value = self.values.get(name)
        return None if value == "" else value

    def text(self, name: str, *, required: bool = False) -> str | None:
        value = self.raw(name)
        if value is None:
            if required:
                raise bad(f"{name} is empty")
            return None
        return value if isinstance(value, str) else str(value)

    def int(self, name: str, *, required: bool = False) -> int | None:
        return self._number(name, int, required)

    def float(self, name: str, *, required: bool = False) -> float | None:
        return self._number(name, float, required)

    def _number(self, name: str, kind: type, required: bool) -> Any:
        value = self.raw(name)
        if value is None:
            if required:
                raise bad(f"{name} is empty")
            return None
        try:
            return kind(value)
        except (TypeError, ValueError):
            raise bad(f"invalid {name} specified") from None

    def bool(self, name: str) -> bool:
        value = self.raw(name)
        if isinstance(value, str):
            return value.strip().lower() in ("true", "1")
        return bool(value)

    def json(self, name: str, *, what: str | None = None) -> Any:
        value = self.raw(name)
        if not isinstance(value, str):
            return value
        try:
            return json.loads(value)
        except ValueError:
            raise bad(f"can't parse {what or name} JSON object") from None

    def file(self, name: str) -> Upload | str | None:
        if name in self.files:
            return self.files[name]
        value = self.text(name)
        if value is not None and value.startswith("attach://"):
            upload = self.files.get(value.removeprefix("attach://"))
            if upload is None:
                raise bad(f"there is no file attached for {name} in the request")
            return upload
        return value


async def read_params(request: web.Request) -> Params:
    values: dict[str, Any] = dict(request.query)
    files: dict[str, Upload] = {}
    if request.body_exists:
        content_type = request.content_type
        if content_type == "multipart/form-data":
            await read_multipart(await request.multipart(), values, files)
        elif content_type == "application/json":
            try:
                body = await request.json()
            except ValueError:
                raise bad("can't parse JSON request body") from None
            if not isinstance(body, dict):
                raise bad("JSON request body must be an object")
            values.update(body)
        else:
            values.update(await request.post())
    return Params(values, files)


async def read_multipart(
    reader: aiohttp.MultipartReader, values: dict[str, Any], files: dict[str, Upload]
) -> None:
    async for part in reader:
        if not isinstance(part, aiohttp.BodyPartReader) or part.name is None:
            continue
        if part.filename is None:
            values[part.name] = await part.text()
        else:
            content_type = part.headers.get(aiohttp.hdrs.CONTENT_TYPE)
            files[part.name] = Upload(part.filename, content_type, bytes(await part.read()))
