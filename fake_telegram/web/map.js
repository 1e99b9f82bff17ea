// "Share location" without map tiles (the playground works offline): an equirectangular
// sketch with a coordinate grid, the demo centers as dots and the demo cities to pick from.
// A click anywhere chooses that point; the coordinates can also be typed.
"use strict";

const SVG_NS = "http://www.w3.org/2000/svg";
const ASPECT = 16 / 9;
const SCALE_X = Math.cos((55 * Math.PI) / 180); // keeps shapes right around 55° N

function svg(tag, attributes) {
  const node = document.createElementNS(SVG_NS, tag);
  for (const [name, value] of Object.entries(attributes || {})) node.setAttribute(name, value);
  return node;
}

const project = (lat, lon) => [lon * SCALE_X, -lat];
const unproject = (x, y) => [-y, x / SCALE_X];

class LocationPicker {
  constructor(dialog, data) {
    this.dialog = dialog;
    this.cities = data.cities || [];
    this.centers = data.centers || [];
    this.map = dialog.querySelector("#map");
    this.lat = dialog.querySelector("#lat");
    this.lon = dialog.querySelector("#lon");
    this.sendButton = dialog.querySelector("#location-send");
    this.chips = dialog.querySelector("#cities");
    this.chosen = null;
    this.city = null;
    this.onPick = null;
    this.map.addEventListener("click", (event) => this.clicked(event));
    for (const input of [this.lat, this.lon]) {
      input.addEventListener("input", () => this.typed());
    }
    dialog.addEventListener("close", () => {
      if (dialog.returnValue === "send" && this.chosen && this.onPick) {
        this.onPick(...this.chosen);
      }
      this.onPick = null;
    });
  }

  open(onPick) {
    this.onPick = onPick;
    this.dialog.returnValue = "";
    this.drawChips();
    this.draw();
    this.update();
    this.dialog.showModal();
  }

  drawChips() {
    this.chips.replaceChildren();
    const all = el("button", "chip", t("allCities"));
    all.type = "button";
    all.classList.toggle("active", this.city === null);
    all.addEventListener("click", () => this.showCity(null));
    this.chips.append(all);
    for (const city of this.cities) {
      const chip = el("button", "chip", city.name);
      chip.type = "button";
      chip.dataset.city = city.name;
      chip.classList.toggle("active", this.city === city);
      chip.addEventListener("click", () => this.showCity(city));
      this.chips.append(chip);
    }
  }

  // Choosing a city both zooms in and picks its middle, so "Send" right away works.
  showCity(city) {
    this.city = city;
    if (city) this.chosen = [city.latitude, city.longitude];
    this.drawChips();
    this.draw();
    this.update();
  }

  viewBox() {
    let points = this.centers.map(([lat, lon]) => project(lat, lon));
    let margin = 4;
    if (this.city) {
      const [x, y] = project(this.city.latitude, this.city.longitude);
      points = [
        [x - 0.2, y - 0.12],
        [x + 0.2, y + 0.12],
      ];
      margin = 0.02;
    }
    if (!points.length) points = [project(40, 20), project(65, 150)];
    const xs = points.map((p) => p[0]);
    const ys = points.map((p) => p[1]);
    let [x0, x1, y0, y1] = [Math.min(...xs), Math.max(...xs), Math.min(...ys), Math.max(...ys)];
    x0 -= margin;
    x1 += margin;
    y0 -= margin;
    y1 += margin;
    let [width, height] = [x1 - x0, y1 - y0];
    if (width / height > ASPECT) {
      y0 -= (width / ASPECT - height) / 2;
      height = width / ASPECT;
    } else {
      x0 -= (height * ASPECT - width) / 2;
      width = height * ASPECT;
    }
    return [x0, y0, width, height];
  }

  draw() {
    const [x0, y0, width, height] = this.viewBox();
    this.box = [x0, y0, width, height];
    const root = svg("svg", {
      viewBox: `${x0} ${y0} ${width} ${height}`,
      preserveAspectRatio: "xMidYMid meet",
      role: "img",
      "aria-label": t("pickPoint"),
    });
    root.append(svg("rect", { x: x0, y: y0, width, height, class: "sea" }));
    const unit = width / 100;
    const [north, west] = unproject(x0, y0);
    const [south, east] = unproject(x0 + width, y0 + height);
    const step = this.city ? 0.05 : 10;
    const label = (value) => (this.city ? value.toFixed(2) : `${Math.round(value)}°`);
    for (let lat = Math.ceil(south / step) * step; lat <= north; lat += step) {
      const [, y] = project(lat, 0);
      root.append(svg("line", { x1: x0, x2: x0 + width, y1: y, y2: y, class: "grid" }));
      const text = svg("text", { x: x0 + unit * 0.6, y: y - unit * 0.4, class: "grid-label" });
      text.style.fontSize = `${unit * 1.6}px`;
      text.textContent = label(lat);
      root.append(text);
    }
    for (let lon = Math.ceil(west / step) * step; lon <= east; lon += step) {
      const [x] = project(0, lon);
      root.append(svg("line", { x1: x, x2: x, y1: y0, y2: y0 + height, class: "grid" }));
      const text = svg("text", { x: x + unit * 0.4, y: y0 + height - unit * 0.8, class: "grid-label" });
      text.style.fontSize = `${unit * 1.6}px`;
      text.textContent = label(lon);
      root.append(text);
    }
    for (const [lat, lon] of this.centers) {
      const [x, y] = project(lat, lon);
      root.append(svg("circle", { cx: x, cy: y, r: unit * (this.city ? 0.9 : 0.45), class: "center" }));
    }
    if (!this.city) this.drawCityLabels(root, unit);
    this.marker = svg("g", { class: "marker" });
    this.marker.append(svg("circle", { r: unit * 1.4, class: "marker-halo" }));
    this.marker.append(svg("circle", { r: unit * 0.7, class: "marker-dot" }));
    root.append(this.marker);
    this.svgRoot = root;
    this.map.replaceChildren(root);
  }

  // Cities close together would write over each other: a label that would overlap one
  // already placed is left out (the chips above name every city). Near the right edge a
  // label goes to the left of its dot.
  drawCityLabels(root, unit) {
    const [x0, , width] = this.box;
    const size = unit * 1.9;
    const placed = [];
    for (const city of this.cities) {
      const [x, y] = project(city.latitude, city.longitude);
      const length = city.name.length * size * 0.62;
      const right = x + unit * 0.8 + length < x0 + width;
      const left = right ? x + unit * 0.8 : x - unit * 0.8 - length;
      const box = [left, y - size * 1.2, left + length, y];
      const overlaps = placed.some(
        (b) => box[0] < b[2] && b[0] < box[2] && box[1] < b[3] && b[1] < box[3],
      );
      if (overlaps) continue;
      placed.push(box);
      const text = svg("text", { x: left, y: y - unit * 0.4, class: "city-label" });
      text.style.fontSize = `${size}px`;
      text.textContent = city.name;
      root.append(text);
    }
  }

  clicked(event) {
    if (!this.svgRoot) return;
    const point = this.svgRoot.createSVGPoint();
    point.x = event.clientX;
    point.y = event.clientY;
    const local = point.matrixTransform(this.svgRoot.getScreenCTM().inverse());
    const [lat, lon] = unproject(local.x, local.y);
    this.chosen = [Math.round(lat * 1e5) / 1e5, Math.round(lon * 1e5) / 1e5];
    this.update();
  }

  typed() {
    const lat = Number.parseFloat(this.lat.value);
    const lon = Number.parseFloat(this.lon.value);
    const valid = Math.abs(lat) <= 90 && Math.abs(lon) <= 180;
    this.chosen = valid ? [lat, lon] : null;
    this.update(false);
  }

  update(fillInputs = true) {
    const chosen = this.chosen;
    this.sendButton.disabled = !chosen;
    if (fillInputs) {
      this.lat.value = chosen ? chosen[0] : "";
      this.lon.value = chosen ? chosen[1] : "";
    }
    if (!this.marker) return;
    this.marker.style.display = chosen ? "" : "none";
    if (chosen) {
      const [x, y] = project(...chosen);
      this.marker.setAttribute("transform", `translate(${x} ${y})`);
    }
  }
}
