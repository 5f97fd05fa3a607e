// Load driver for bench/run.mjs: runs one scenario against one endpoint with
// the unmodified RivetKit client (rivetkit/client 2.3.19, createClient) and
// prints one JSON line:
//
//	{scenario, endpoint, system, client, encoding, conc, ops, errors, p50_ms,
//	 p99_ms, ops_per_s, client_cpu_ms_per_op, ...scenario extras}
//
// Usage:
//
//	node driver.mjs --endpoint http://127.0.0.1:6420 --scenario action-64 \
//	    [--conc 64] [--duration 5] [--encoding bare|cbor|json] [--system NAME]
//	    [--actor counter] [--sleepy sleepy] [--n 200] [--idle 3]
//
// Scenarios (latency = time of one awaited call, measured in this process):
//
//	action-1   1 client, its own actor, increment(1) over HTTP, back to back
//	action-64  --conc clients (64), each its own actor, increment(1) over HTTP
//	hot-64     --conc clients (64), all on one actor key, increment(1) over HTTP
//	ws-64      --conc connections (64), each its own actor, increment(1) over
//	           the socket (handle.connect(), conn.increment)
//	create     --conc workers (8): getOrCreate on a fresh key + increment(1);
//	           the latency is the whole first call, creation included
//	wake       --conc workers (16), each its own --sleepy actor (sleeps after
//	           1 s idle): set(1), then repeatedly stay idle --idle s (3) and
//	           time the first get(); the reply's `wakes` counter tells whether
//	           the actor really slept (extras: woke, not_slept)
//	fanout     --n connections (200) subscribed to one actor's "count"; one
//	           broadcaster calls increment(1) over HTTP back to back; latency
//	           = event receive time − increment send time, per delivery;
//	           ops = deliveries, ops_per_s = events/s (extras: increments,
//	           expected, missing)
//
// The warm-up (actor creation, connections) is not timed, except in `create`.
// Each run uses fresh keys (prefixed with a random run id).
import { randomBytes } from "node:crypto";
import { parseArgs } from "node:util";

import { createClient } from "rivetkit/client";

const { values: a } = parseArgs({
	options: {
		endpoint: { type: "string", default: process.env.RIVET_ENDPOINT || "http://127.0.0.1:6420" },
		scenario: { type: "string" },
		conc: { type: "string" },
		duration: { type: "string", default: "5" },
		encoding: { type: "string" },
		system: { type: "string", default: "" },
		actor: { type: "string", default: "counter" },
		sleepy: { type: "string", default: "sleepy" },
		n: { type: "string", default: "200" },
		idle: { type: "string", default: "3" },
		timeout: { type: "string", default: "60" },
	},
});

const DEFAULT_CONC = { "action-1": 1, "action-64": 64, "hot-64": 64, "ws-64": 64, create: 8, wake: 16, fanout: 1 };
if (!a.scenario || !(a.scenario in DEFAULT_CONC)) {
	console.error(`--scenario must be one of ${Object.keys(DEFAULT_CONC).join(", ")}`);
	process.exit(2);
}
const scenario = a.scenario;
const conc = Number(a.conc ?? DEFAULT_CONC[scenario]);
const durationMs = Number(a.duration) * 1000;
const RUN = `${Date.now().toString(36)}-${randomBytes(3).toString("hex")}`;
const key = (...parts) => [`bench-${RUN}`, ...parts.map(String)].join("-");

// createClient with the client default encoding unless --encoding is given.
const client = createClient(a.encoding ? { endpoint: a.endpoint, encoding: a.encoding } : a.endpoint);
const counter = () => client[a.actor];

const lat = []; // milliseconds
let errors = 0;
let firstError;
const extras = {};

function noteError(e) {
	errors++;
	if (!firstError) firstError = `${e?.group ?? ""}/${e?.code ?? ""} ${e?.message ?? e}`.slice(0, 300);
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// mark tells bench/run.mjs (on stderr) where the timed part starts and ends,
// so that it samples the server's CPU time over that part only.
const mark = (what) => process.stderr.write(`BENCH_MARK ${what}\n`);

// bounded limits one await to --timeout seconds, so that a stuck call fails
// the op instead of hanging the run.
function bounded(p) {
	let t;
	const timeout = new Promise((_, reject) => {
		t = setTimeout(() => reject(new Error(`no reply within ${a.timeout} s`)), Number(a.timeout) * 1000);
	});
	return Promise.race([p, timeout]).finally(() => clearTimeout(t));
}

// timedLoop runs fn back to back on each of n workers until the deadline,
// recording each call's latency.
async function timedLoop(n, fn) {
	mark("start");
	const start = performance.now();
	const deadline = start + durationMs;
	await Promise.all(
		Array.from({ length: n }, async (_, w) => {
			while (performance.now() < deadline) {
				const t = performance.now();
				try {
					await bounded(fn(w));
					lat.push(performance.now() - t);
				} catch (e) {
					noteError(e);
				}
			}
		}),
	);
	const elapsed = performance.now() - start;
	mark("end");
	return elapsed;
}

// warm runs fn once per worker, untimed, retrying a failure twice (RivetKit
// sometimes fails a burst of first calls to new actors with
// pegboard/route_resolve_query_timeout); extras.warmup_retries counts them.
async function warm(n, fn) {
	await Promise.all(
		Array.from({ length: n }, async (_, w) => {
			for (let attempt = 0; ; attempt++) {
				try {
					return await bounded(fn(w));
				} catch (e) {
					if (attempt >= 2) throw e;
					extras.warmup_retries = (extras.warmup_retries ?? 0) + 1;
				}
			}
		}),
	);
}

async function run() {
	switch (scenario) {
		case "action-1":
		case "action-64": {
			const hs = Array.from({ length: conc }, (_, w) => counter().getOrCreate([key("a", w)]));
			await warm(conc, (w) => hs[w].increment(1));
			return timedLoop(conc, (w) => hs[w].increment(1));
		}
		case "hot-64": {
			const hs = Array.from({ length: conc }, () => counter().getOrCreate([key("hot")]));
			await warm(1, () => hs[0].increment(1));
			await warm(conc, (w) => hs[w].getCount());
			return timedLoop(conc, (w) => hs[w].increment(1));
		}
		case "ws-64": {
			const conns = Array.from({ length: conc }, (_, w) => counter().getOrCreate([key("ws", w)]).connect());
			try {
				await warm(conc, (w) => conns[w].increment(1));
				return await timedLoop(conc, (w) => conns[w].increment(1));
			} finally {
				await Promise.all(conns.map((c) => c.dispose().catch(() => {})));
			}
		}
		case "create": {
			let next = 0;
			return timedLoop(conc, (w) => counter().getOrCreate([key("new", w, next++)]).increment(1));
		}
		case "wake": {
			const hs = Array.from({ length: conc }, (_, w) => client[a.sleepy].getOrCreate([key("sleepy", w)]));
			const wakes = [];
			await warm(conc, (w) => hs[w].set(1).then((s) => (wakes[w] = Number(s.wakes))));
			let woke = 0;
			let notSlept = 0;
			const idleMs = Number(a.idle) * 1000;
			mark("start");
			const start = performance.now();
			const deadline = start + durationMs;
			await Promise.all(
				hs.map(async (h, w) => {
					// Stagger the workers so that wakes do not all land at once.
					await sleep((idleMs * w) / conc);
					while (performance.now() + idleMs < deadline) {
						await sleep(idleMs);
						const t = performance.now();
						try {
							const s = await bounded(h.get());
							const dt = performance.now() - t;
							if (Number(s.wakes) > wakes[w]) {
								woke++;
								lat.push(dt);
							} else {
								notSlept++;
							}
							wakes[w] = Number(s.wakes);
						} catch (e) {
							noteError(e);
						}
					}
				}),
			);
			const elapsed = performance.now() - start;
			mark("end");
			Object.assign(extras, { woke, not_slept: notSlept, idle_s: Number(a.idle) });
			return elapsed;
		}
		case "fanout": {
			const n = Number(a.n);
			const k = key("fan");
			const sent = new Map(); // count value → send time
			let received = 0;
			let late = 0;
			const conns = [];
			try {
				// Create the actor first (n concurrent first connects race the
				// creation on RivetKit: actor/destroyed_during_creation), then
				// open the connections 25 at a time; a connection is ready once
				// it has answered an action over the socket.
				const h = counter().getOrCreate([k]);
				await warm(1, () => h.getCount());
				const ready = performance.now();
				for (let i = 0; i < n; i += 25) {
					const batch = [];
					for (let j = i; j < Math.min(n, i + 25); j++) {
						const c = counter().getOrCreate([k]).connect();
						c.on("count", (v) => {
							const t0 = sent.get(Number(v));
							if (t0 === undefined) {
								late++;
								return;
							}
							received++;
							lat.push(performance.now() - t0);
						});
						conns.push(c);
						batch.push(c);
					}
					await Promise.all(batch.map((c) => bounded(c.getCount())));
				}
				extras.connect_s = Number(((performance.now() - ready) / 1000).toFixed(2));
				let last = Number(await bounded(h.getCount()));
				let increments = 0;
				mark("start");
				const start = performance.now();
				const deadline = start + durationMs;
				while (performance.now() < deadline) {
					// The value this increment produces is last+1 (one writer).
					sent.set(last + 1, performance.now());
					try {
						last = Number(await bounded(h.increment(1)));
						increments++;
					} catch (e) {
						noteError(e);
						break;
					}
				}
				const elapsed = performance.now() - start;
				// Let the last events arrive (bounded).
				const expected = increments * n;
				const grace = performance.now() + 5000;
				while (received < expected && performance.now() < grace) await sleep(20);
				mark("end");
				Object.assign(extras, { n, increments, expected, missing: expected - received, unmatched: late });
				return elapsed;
			} finally {
				await Promise.all(conns.map((c) => c.dispose().catch(() => {})));
			}
		}
	}
}

function pct(sorted, p) {
	if (sorted.length === 0) return null;
	const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
	return Number(sorted[i].toFixed(2));
}

const cpu0 = process.cpuUsage();
let elapsedMs;
let fatal;
try {
	elapsedMs = await run();
} catch (e) {
	fatal = `${e?.group ?? ""}/${e?.code ?? ""} ${e?.message ?? e}`.slice(0, 300);
}
const cpu = process.cpuUsage(cpu0);
lat.sort((x, y) => x - y);
const ops = lat.length;
const out = {
	scenario,
	endpoint: a.endpoint,
	system: a.system,
	client: "js",
	encoding: a.encoding || "default(bare)",
	actor: scenario === "wake" ? a.sleepy : a.actor,
	conc: scenario === "fanout" ? Number(a.n) : conc,
	ops,
	errors,
	p50_ms: pct(lat, 50),
	p99_ms: pct(lat, 99),
	ops_per_s: elapsedMs ? Number(((ops * 1000) / elapsedMs).toFixed(1)) : null,
	elapsed_s: elapsedMs ? Number((elapsedMs / 1000).toFixed(2)) : null,
	client_cpu_ms_per_op: ops ? Number(((cpu.user + cpu.system) / 1000 / ops).toFixed(3)) : null,
	...extras,
};
if (firstError) out.first_error = firstError;
if (fatal) out.fatal = fatal;
console.log(JSON.stringify(out));
await client.dispose().catch(() => {});
process.exit(fatal ? 1 : 0);
