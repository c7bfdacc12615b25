// Shared set-up of the browser tests: the running `contrail up` they talk to (given by scripts/test-web),
// the system Chromium driven by playwright-core, and small helpers to read the board.

import { mkdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { chromium } from "playwright-core";

function required(name) {
  const value = process.env[name];
  if (!value) {
    throw new Error(`${name} is not set: run these tests through scripts/test-web, which starts \`contrail up\``);
  }
  return value;
}

export const baseUrl = required("CONTRAIL_URL").replace(/\/+$/, "");
export const token = required("CONTRAIL_TOKEN");
export const tokenWithoutScope = required("CONTRAIL_TOKEN_NO_SCOPE");
export const screenshotDir = process.env.SCREENSHOT_DIR || path.resolve("screenshots");
mkdirSync(screenshotDir, { recursive: true });

/** Flags that keep Chromium off the network it cannot reach, and out of any earlier profile. */
const CHROMIUM_ARGS = [
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

export async function launch() {
  return chromium.launch({
    executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
    headless: true,
    args: CHROMIUM_ARGS,
  });
}

/** A fresh page (own context: own session storage) with the board's console errors collected. */
export async function openPage(browser, { viewport = { width: 1440, height: 900 }, fixedClock = true } = {}) {
  const context = await browser.newContext({ viewport, timezoneId: "UTC", locale: "en-US" });
  const page = await context.newPage();
  // A fixed wall clock (timers still run) so the "checked at" line, and so the screenshots, are the same
  // on every run; it is after the fixture's day, as a real viewer's would be. Timing measurements turn
  // it off: the fake clock replaces `performance`, whose entries they read.
  if (fixedClock) await page.clock.setFixedTime(new Date("2026-11-21T09:30:00Z"));
  page.consoleErrors = [];
  page.on("pageerror", (e) => page.consoleErrors.push(String(e)));
  return page;
}

/** GETs the API the way any client would, with the test token. */
export async function apiGet(pathAndQuery, bearer = token) {
  const res = await fetch(`${baseUrl}${pathAndQuery}`, { headers: { Authorization: `Bearer ${bearer}` } });
  return { status: res.status, headers: res.headers, body: await res.json() };
}

/** Waits until the board has finished loading and shows `count` rows. */
export async function waitForRows(page, count) {
  await page.waitForFunction(
    (n) => document.querySelector("#board")?.getAttribute("aria-busy") === "false" &&
      document.querySelectorAll("#board-rows tr").length === n,
    count,
    { timeout: 15_000 },
  );
}

/** The flight ids of the board's rows, top to bottom. */
export function rowIds(page) {
  return page.$$eval("#board-rows tr", (rows) => rows.map((r) => r.dataset.flightId));
}

/** The visible text of one cell class in every row. */
export function column(page, cls) {
  return page.$$eval(`#board-rows td.${cls}`, (cells) => cells.map((c) => c.innerText.trim()));
}

export async function screenshot(page, name) {
  const file = path.join(screenshotDir, name);
  await page.screenshot({ path: file, fullPage: true });
  return file;
}

/**
 * The current snapshot of every flight in fixtures/flights.jsonl, computed here from the file itself
 * (the last event of each flight by event time, then event id), so a test can compare the page with
 * what the events say rather than with what the API says.
 */
export function fixtureSnapshots() {
  const lines = readFileSync(new URL("./fixtures/flights.jsonl", import.meta.url), "utf8").split("\n").filter(Boolean);
  const last = new Map();
  for (const line of lines) {
    const e = JSON.parse(line);
    const id = `${e.carrier}${e.number}-${e.date}-${e.origin}`;
    const prev = last.get(id);
    if (!prev || e.event_time > prev.event_time || (e.event_time === prev.event_time && e.event_id > prev.event_id)) {
      last.set(id, e);
    }
  }
  return last;
}

/** The flight ids the fixture has airborne with a position, sorted. */
export function fixtureAirborne() {
  return [...fixtureSnapshots()].filter(([, e]) => e.status === "airborne" && e.position).map(([id]) => id).sort();
}

/** Waits until the sky map has drawn the flights of /positions and listed those in view. */
export async function waitForSky(page, flights) {
  await page.waitForFunction(
    (n) => {
      const sky = document.querySelector("#sky");
      return sky?.dataset.flights === String(n) && sky.dataset.planes !== undefined &&
        Number(sky.dataset.planes) + Number(sky.dataset.clusteredFlights) > 0 === (n > 0) &&
        document.querySelectorAll("#sky .sky-list li").length > 0 === (n > 0);
    },
    flights,
    { timeout: 15_000 },
  );
}
