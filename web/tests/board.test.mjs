// The flight board in a real headless Chromium against `contrail up`, whose database holds exactly the
// events of fixtures/flights.jsonl (loaded by scripts/test-web with `contrail replay`).

import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import vm from "node:vm";

import {
  apiGet, baseUrl, column, launch, openPage, rowIds, screenshot, token, tokenWithoutScope, waitForRows,
} from "./harness.mjs";

const DAY = "2026-11-20";
const EWR_DEPARTURES = [
  "UA1545-2026-11-20-EWR", "B61101-2026-11-20-EWR", "AA200-2026-11-20-EWR", "UA2000-2026-11-20-EWR",
  "DL410-2026-11-20-EWR", "UA18-2026-11-20-EWR", "AA1400-2026-11-20-EWR", "B62202-2026-11-20-EWR",
];
const EWR_ARRIVALS = [
  "UA900-2026-11-20-SFO", "AA301-2026-11-20-ORD", "DL777-2026-11-20-ATL", "B688-2026-11-20-BOS",
];
const board = (extra = "") => `${baseUrl}/#/board?airport=EWR&date=${DAY}&kind=departures${extra}`;

let browser;
before(async () => {
  browser = await launch();
});
after(async () => {
  await browser?.close();
});

/** A page whose tab already holds the token minted by `contrail token` (as if pasted earlier). */
async function signedInPage(options) {
  const page = await openPage(browser, options);
  await page.context().addInitScript((t) => sessionStorage.setItem("contrail.token", t), token);
  return page;
}

describe("the flight board", () => {
  test("opens on the busiest airport and the latest day in the data with the server's dev token", async () => {
    // Only a request that proves it comes from the board's own page gets the dev token: not this one.
    const configJs = await (await fetch(`${baseUrl}/config.js`)).text();
    const sandbox = { window: {} };
    vm.runInNewContext(configJs, sandbox);
    assert.equal(sandbox.window.CONTRAIL_CONFIG?.devToken, null, "/config.js without same-origin proof");

    const page = await openPage(browser);
    await page.goto(`${baseUrl}/`);
    const devToken = await page.evaluate(() => window.CONTRAIL_CONFIG?.devToken);
    assert.ok(devToken, "contrail up serves the board's /config.js with a devToken");
    await page.waitForFunction(() => location.hash.startsWith("#/board?"));
    await waitForRows(page, EWR_DEPARTURES.length);
    const hash = new URLSearchParams((await page.evaluate(() => location.hash)).split("?")[1]);
    assert.equal(hash.get("airport"), "EWR");
    assert.equal(hash.get("date"), DAY);
    assert.equal(await page.inputValue("#token"), devToken);
    assert.equal(await page.evaluate(() => sessionStorage.getItem("contrail.token")), null);
    assert.equal(await page.evaluate(() => localStorage.length), 0);
    assert.match(await page.textContent("#board-title"), /Departures · EWR · 2026-11-20/);
    assert.deepEqual(page.consoleErrors, []);
    await page.context().close();
  });

  test("the departures board shows the known flights in scheduled order with times, delays, gates and status",
    async () => {
      const page = await signedInPage();
      await page.goto(board());
      await waitForRows(page, EWR_DEPARTURES.length);
      assert.deepEqual(await rowIds(page), EWR_DEPARTURES);
      assert.deepEqual(await column(page, "time"),
        ["06:00", "07:30", "08:15", "09:00", "10:45", "12:00", "14:30", "16:10"]);
      assert.deepEqual(await column(page, "place .iata"), ["SFO", "BOS", "ORD", "LAX", "ATL", "DEN", "MIA", "FLL"]);
      assert.deepEqual((await column(page, "place .city")).slice(0, 3), ["San Francisco", "Boston", "Chicago"]);
      assert.deepEqual(await column(page, "gate"), ["C71", "A12", "A28", "C120", "A22", "C88", "A31", "A15"]);
      assert.deepEqual(await column(page, "status"),
        ["Arrived", "Departed", "Cancelled", "Delayed", "Boarding", "Scheduled", "Scheduled", "Scheduled"]);
      assert.deepEqual(await column(page, "carrier"),
        ["United Airlines", "JetBlue", "American Airlines", "United Airlines", "Delta Air Lines", "United Airlines",
          "American Airlines", "JetBlue"]);

      const delays = await page.$$eval("#board-rows td.delay-cell .delay", (cells) =>
        cells.map((c) => ({ text: c.querySelector("[aria-hidden]")?.textContent ?? c.textContent, cls: c.className })));
      assert.equal(delays[0].text, "+4 min");
      assert.match(delays[0].cls, /sev-ontime/);
      assert.equal(delays[1].text, "+26 min");
      assert.match(delays[1].cls, /sev-minor/);
      assert.equal(delays[2].text, "—", "a cancelled flight has no delay");
      assert.equal(delays[3].text, "+75 min est.");
      assert.match(delays[3].cls, /sev-major/);
      assert.equal(delays[7].text, "+10 min est.");
      assert.match(await page.textContent("#col-sched"), /UTC/);
      await screenshot(page, "board-departures.png");
      await page.context().close();
    });

  test("airport-local times use the airport's zone and say so in the column heading", async () => {
    const page = await signedInPage();
    await page.goto(board());
    await waitForRows(page, EWR_DEPARTURES.length);
    await page.selectOption("#tz", "local");
    await page.waitForFunction(() => /EWR local/.test(document.querySelector("#col-sched").textContent));
    await waitForRows(page, EWR_DEPARTURES.length);
    // EWR is on Eastern Standard Time (UTC-5) in November.
    assert.deepEqual((await column(page, "time")).slice(0, 3), ["01:00", "02:30", "03:15"]);
    await page.context().close();
  });

  test("the arrivals board lists flights into the airport by scheduled arrival", async () => {
    const page = await signedInPage();
    await page.goto(board());
    await waitForRows(page, EWR_DEPARTURES.length);
    await page.click("#tab-arrivals");
    await waitForRows(page, EWR_ARRIVALS.length);
    assert.deepEqual(await rowIds(page), EWR_ARRIVALS);
    assert.deepEqual(await column(page, "place .iata"), ["SFO", "ORD", "ATL", "BOS"]);
    assert.deepEqual(await column(page, "time"), ["06:10", "11:20", "15:10", "16:15"]);
    assert.equal(await page.getAttribute("#tab-arrivals", "aria-pressed"), "true");
    assert.equal(await page.textContent("#col-place"), "From");
    await page.context().close();
  });

  test("pages follow next_cursor until every flight is shown exactly once", async () => {
    // Tall enough that the "Load more" button, below the map and the charts, is on screen and loads itself.
    const page = await signedInPage({ viewport: { width: 1440, height: 3200 } });
    const cursors = [];
    page.on("request", (r) => {
      const u = new URL(r.url());
      if (u.pathname === "/airports/EWR/departures" && u.searchParams.get("cursor")) {
        cursors.push(u.searchParams.get("cursor"));
      }
    });
    await page.goto(board("&limit=3"));
    await waitForRows(page, EWR_DEPARTURES.length);
    assert.deepEqual(await rowIds(page), EWR_DEPARTURES);
    assert.equal(new Set(cursors).size, 2, "two further pages of three were asked for with the API's cursors");
    assert.equal(await page.isHidden("#load-more"), true, "nothing more to load after the last page");
    await page.context().close();
  });

  test("carrier and status filters narrow the board and are sent to the API", async () => {
    const page = await signedInPage();
    await page.goto(board());
    await waitForRows(page, EWR_DEPARTURES.length);

    const asked = page.waitForRequest((r) => new URL(r.url()).searchParams.get("carrier") === "UA");
    await page.selectOption("#carrier", "UA");
    await asked;
    await waitForRows(page, 3);
    assert.deepEqual(await rowIds(page), ["UA1545-2026-11-20-EWR", "UA2000-2026-11-20-EWR", "UA18-2026-11-20-EWR"]);

    await page.selectOption("#status", "scheduled");
    await waitForRows(page, 1);
    assert.deepEqual(await rowIds(page), ["UA18-2026-11-20-EWR"]);

    await page.selectOption("#carrier", "");
    await page.selectOption("#status", "delayed,cancelled,diverted");
    await waitForRows(page, 2);
    assert.deepEqual(await rowIds(page), ["AA200-2026-11-20-EWR", "UA2000-2026-11-20-EWR"]);
    await page.context().close();
  });

  test("the empty state says no flights match and offers to clear the filters", async () => {
    const page = await signedInPage();
    await page.goto(board("&carrier=DL&status=cancelled"));
    await waitForRows(page, 0);
    await page.waitForSelector("#empty:not([hidden])");
    assert.match(await page.textContent("#empty"), /No departures from EWR on 2026-11-20 match these filters/);
    await page.click("#empty button");
    await waitForRows(page, EWR_DEPARTURES.length);
    await page.context().close();
  });

  test("the stats strip shows exactly what /stats answers for the airport and day", async () => {
    const page = await signedInPage();
    await page.goto(board());
    await waitForRows(page, EWR_DEPARTURES.length);
    await page.waitForFunction(() => document.querySelector('[data-stat="flights"]').textContent !== "–");

    const { status, body } = await apiGet(`/stats?date=${DAY}&origin=EWR`);
    assert.equal(status, 200);
    // The fixture's own figures, so the API is checked as well as the page.
    assert.equal(body.flights, 8);
    assert.equal(body.cancelled, 1);
    assert.equal(body.avg_departure_delay_minutes, 15);
    assert.equal(body.avg_arrival_delay_minutes, 6);
    assert.equal(body.on_time_arrival_pct, 100);
    assert.deepEqual(body.by_status,
      { arrived: 1, boarding: 1, cancelled: 1, delayed: 1, departed: 1, scheduled: 3 });

    const shown = await page.$$eval("[data-stat]", (dds) =>
      Object.fromEntries(dds.map((d) => [d.dataset.stat, d.textContent])));
    assert.deepEqual(shown, {
      flights: String(body.flights),
      cancelled: String(body.cancelled),
      avg_departure_delay_minutes: `${body.avg_departure_delay_minutes.toFixed(1)} min`,
      avg_arrival_delay_minutes: `${body.avg_arrival_delay_minutes.toFixed(1)} min`,
      on_time_arrival_pct: `${body.on_time_arrival_pct.toFixed(1)} %`,
    });
    const bars = await page.$$eval(".status-chart .bar", (gs) =>
      Object.fromEntries(gs.map((g) => [g.dataset.status, Number(g.querySelector(".bar-value").textContent)])));
    assert.deepEqual(bars, body.by_status);
    await page.context().close();
  });

  test("the detail view opens from the keyboard and shows every field and the event history in order",
    async () => {
      const page = await signedInPage();
      await page.goto(board());
      await waitForRows(page, EWR_DEPARTURES.length);

      let focused = "";
      for (let i = 0; i < 80 && focused !== "UA1545-2026-11-20-EWR"; i++) {
        await page.keyboard.press("Tab");
        focused = await page.evaluate(() =>
          document.activeElement?.matches(".flight-link") ? document.activeElement.closest("tr").dataset.flightId : "");
      }
      assert.equal(focused, "UA1545-2026-11-20-EWR", "the first flight is reachable with Tab");
      await page.keyboard.press("Enter");
      await page.waitForSelector("#detail-view:not([hidden]) #timeline li.event");

      const id = "UA1545-2026-11-20-EWR";
      const flight = (await apiGet(`/flights/${id}`)).body;
      const history = (await apiGet(`/flights/${id}/events`)).body;
      assert.equal(history.items.length, 6, "the duplicate delivery is stored once");

      const fields = await page.$$eval("#detail-body [data-field]", (rows) =>
        Object.fromEntries(rows.map((r) => [r.dataset.field, r.querySelector("dd").textContent])));
      for (const name of Object.keys(flight)) assert.ok(name in fields, `the detail view shows ${name}`);
      assert.equal(fields.flight_id, id);
      assert.equal(fields.gate, "C71");
      assert.equal(fields.tail_number, "N24211");
      assert.equal(fields.actual_departure, "2026-11-20 06:04 UTC");
      assert.equal(fields.arrival_delay_minutes, "6 min");

      const timeline = await page.$$eval("#timeline > li.event", (lis) =>
        lis.map((li) => ({ id: li.dataset.eventId, status: li.querySelector(".badge").textContent })));
      assert.deepEqual(timeline.map((e) => e.id), history.items.map((e) => e.event_id));
      assert.deepEqual(timeline.map((e) => e.status),
        ["Scheduled", "Boarding", "Departed", "Airborne", "Landed", "Arrived"]);
      const departed = await page.textContent(`#timeline li[data-event-id="fx-ua1545-2026-11-20-3"]`);
      assert.match(departed, /actual departure: 2026-11-20 06:04 UTC/);
      assert.equal(await page.evaluate(() => document.activeElement?.id), "detail-title");
      await screenshot(page, "flight-detail.png");

      await page.click("#detail-back");
      await waitForRows(page, EWR_DEPARTURES.length);
      await page.context().close();
    });

  test("a refresh of an unchanged board is answered 304 and keeps the rendered rows", async () => {
    const page = await signedInPage();
    await page.goto(board());
    await waitForRows(page, EWR_DEPARTURES.length);
    await page.$$eval("#board-rows tr", (rows) => rows.forEach((r) => { r.dataset.renderMark = "first"; }));

    const revalidated = page.waitForResponse((r) => new URL(r.url()).pathname === "/airports/EWR/departures");
    await page.click("#refresh-now");
    const res = await revalidated;
    assert.ok(res.request().headers()["if-none-match"], "the refresh sends the ETag it was given");
    assert.equal(res.status(), 304);
    await page.waitForFunction(() => /no change/.test(document.querySelector("#live-state").textContent));
    const marks = await page.$$eval("#board-rows tr", (rows) => rows.map((r) => r.dataset.renderMark));
    assert.deepEqual(marks, EWR_DEPARTURES.map(() => "first"), "a 304 leaves the rows as they were");

    await page.click("#live-toggle");
    assert.equal(await page.getAttribute("#live-toggle", "aria-pressed"), "false");
    assert.equal(await page.textContent("#live-toggle"), "Resume live refresh");
    await page.context().close();
  });

  test("a token the API refuses shows the sign-in message", async () => {
    const page = await signedInPage();
    await page.goto(board());
    await waitForRows(page, EWR_DEPARTURES.length);
    await page.click("#auth-title");
    await page.fill("#token", "not-a-valid-token");
    await page.click("#auth-form button[type=submit]");
    await page.waitForSelector("#notice:not([hidden])");
    assert.match(await page.textContent("#notice"), /Sign in again\..*401/);
    assert.equal(await page.evaluate(() => document.activeElement?.id), "token");
    assert.equal(await page.evaluate(() => sessionStorage.getItem("contrail.token")), "not-a-valid-token");
    await screenshot(page, "sign-in-again.png");
    await page.context().close();
  });

  test("a token without the read scope shows the missing-scope message", async () => {
    const check = await apiGet(`/stats?date=${DAY}`, tokenWithoutScope);
    assert.equal(check.status, 403, "the API itself refuses the token with 403");
    const page = await openPage(browser);
    await page.context().addInitScript((t) => sessionStorage.setItem("contrail.token", t), tokenWithoutScope);
    await page.goto(board());
    await page.waitForSelector("#notice:not([hidden])");
    assert.match(await page.textContent("#notice"), /Missing scope\..*403.*flights:read/);
    await page.context().close();
  });

  test("an API that cannot be reached gives a network error message", async () => {
    const page = await signedInPage();
    await page.route("**/airports/**", (route) => route.abort("connectionrefused"));
    await page.goto(board());
    await page.waitForSelector("#notice:not([hidden])");
    assert.match(await page.textContent("#notice"), /Network error\. Cannot reach the API/);
    await page.context().close();
  });

  test("on a phone the board becomes cards without horizontal scrolling", async () => {
    const page = await signedInPage({ viewport: { width: 390, height: 844 } });
    await page.goto(board());
    await waitForRows(page, EWR_DEPARTURES.length);
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    assert.ok(overflow <= 0, `page is ${overflow}px wider than the phone`);
    assert.equal(await page.isVisible("#board-rows tr:first-child .flight-link"), true);
    await screenshot(page, "board-phone.png");
    await page.context().close();
  });
});
