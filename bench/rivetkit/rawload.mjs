// Raw-HTTP load, without the RivetKit client, for the slowness analysis in
// bench/RESULTS.md: it sends the exact requests the 2.3.19 client sends for
// an action (BARE encoding, see shared/rivetkit-protocol.md §12) with Node's
// fetch (keep-alive), so that the client library's own cost is out and the
// gateway's two URL forms can be compared.
//
//	node rawload.mjs --endpoint http://127.0.0.1:6420 --form query|direct \
//	    [--action increment|getCount] [--conc 1] [--duration 5] [--hot]
//
//	query   POST /gateway/counter/action/<a>?rvt-method=getOrCreate&rvt-key=…  (what the client sends)
//	direct  POST /gateway/<actorId>/action/<a>  (the id resolved once up front)
//
// Each of --conc workers has its own actor (--hot: all on one). Prints one
// JSON line like driver.mjs (and BENCH_MARK lines on stderr).
import { randomBytes } from "node:crypto";
import { parseArgs } from "node:util";

const { values: a } = parseArgs({
	options: {
		endpoint: { type: "string", default: "http://127.0.0.1:6420" },
		form: { type: "string", default: "query" },
		action: { type: "string", default: "increment" },
		actor: { type: "string", default: "counter" },
		conc: { type: "string", default: "1" },
		duration: { type: "string", default: "5" },
		hot: { type: "boolean", default: false },
	},
});
const conc = Number(a.conc);
const RUN = `raw-${Date.now().toString(36)}-${randomBytes(3).toString("hex")}`;
// BARE v4 HttpActionRequest: version 04 00, then data<CBOR args>.
const body = a.action === "increment" ? Buffer.from([4, 0, 2, 0x81, 1]) : Buffer.from([4, 0, 1, 0x80]);
const headers = { "x-rivet-encoding": "bare", "content-type": "application/octet-stream" };
const queryURL = (k) =>
	`${a.endpoint}/gateway/${a.actor}/action/${a.action}?rvt-namespace=default&rvt-method=getOrCreate&rvt-runner=default&rvt-key=${encodeURIComponent(k)}&rvt-crash-policy=sleep`;

async function post(url) {
	const r = await fetch(url, { method: "POST", headers, body, signal: AbortSignal.timeout(60_000) });
	await r.arrayBuffer();
	if (r.status !== 200) throw new Error(`HTTP ${r.status}`);
	return r;
}

const keys = Array.from({ length: conc }, (_, w) => (a.hot ? `${RUN}-hot` : `${RUN}-${w}`));
const urls = [];
for (const k of a.hot ? [keys[0]] : keys) {
	const r = await post(queryURL(k)); // creates the actor (not timed)
	urls.push(a.form === "direct" ? `${a.endpoint}/gateway/${r.headers.get("x-rivet-actor")}/action/${a.action}` : queryURL(k));
}
const urlOf = (w) => (a.hot ? urls[0] : urls[w]);

const lat = [];
let errors = 0;
let firstError;
const cpu0 = process.cpuUsage();
process.stderr.write("BENCH_MARK start\n");
const start = performance.now();
const deadline = start + Number(a.duration) * 1000;
await Promise.all(
	Array.from({ length: conc }, async (_, w) => {
		while (performance.now() < deadline) {
			const t = performance.now();
			try {
				await post(urlOf(w));
				lat.push(performance.now() - t);
			} catch (e) {
				errors++;
				firstError ??= String(e?.message ?? e);
			}
		}
	}),
);
const elapsed = performance.now() - start;
process.stderr.write("BENCH_MARK end\n");
const cpu = process.cpuUsage(cpu0);
lat.sort((x, y) => x - y);
const pct = (p) => (lat.length ? Number(lat[Math.min(lat.length - 1, Math.max(0, Math.ceil((p / 100) * lat.length) - 1))].toFixed(2)) : null);
console.log(
	JSON.stringify({
		scenario: `raw-${a.form}-${a.action}${a.hot ? "-hot" : ""}`,
		endpoint: a.endpoint,
		client: "raw-fetch",
		conc,
		ops: lat.length,
		errors,
		p50_ms: pct(50),
		p99_ms: pct(99),
		ops_per_s: Number(((lat.length * 1000) / elapsed).toFixed(1)),
		elapsed_s: Number((elapsed / 1000).toFixed(2)),
		client_cpu_ms_per_op: lat.length ? Number(((cpu.user + cpu.system) / 1000 / lat.length).toFixed(3)) : null,
		...(firstError ? { first_error: firstError } : {}),
	}),
);
