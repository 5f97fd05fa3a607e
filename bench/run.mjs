// bench/run.mjs: rivetgo against a real RivetKit 2.3.19 server, side by side.
// bench/run.sh builds what this needs and runs it; see bench/RESULTS.md.
//
// For each scenario it starts rivetgo (bin/rivetgo, the one-process dev mesh,
// fresh data dir), runs the unmodified RivetKit JS client against it
// (bench/rivetkit/driver.mjs) and, for the action rows, the Go client
// (bench/goclient), stops it; then does the same with the RivetKit server
// (bench/rivetkit/server.mjs: registry.start(), which spawns the bundled
// rivet-engine on :6420; fresh storage dir). Only one system runs at a time.
// Per run it records the server processes' CPU time (utime+stime from
// /proc/<pid>/stat, every process of the server: node, rivet-engine,
// rivet-services) and their peak RSS (sum of VmHWM, read just before stop),
// and prints a Markdown table (and the raw JSON lines) at the end.
//
// Environment (all optional):
//
//	BENCH_SCENARIOS   comma list (default action-1,action-64,hot-64,ws-64,create,wake,fanout)
//	BENCH_SYSTEMS     comma list (default rivetgo,rivetkit,rivetkit-tuned):
//	                    rivetgo           bin/rivetgo
//	                    rivetkit          RivetKit as configured by default
//	                    rivetkit-nodelay  plus the engine setting guard.tcp_nodelay
//	                                      (RIVET__GUARD__TCP_NODELAY=true)
//	                    rivetkit-tuned    plus that and runtime.worker_cpu_max = 64 cores
//	                                      (RIVET__RUNTIME__WORKER_CPU_MAX=64000: no
//	                                      CPU load shedding of the engine's workflows)
//	                  see bench/RESULTS.md for why
//	BENCH_RG_DURATION seconds per timed run against rivetgo (default 5)
//	BENCH_RK_DURATION seconds per timed run against RivetKit (default 8)
//	BENCH_WAKE_DURATION  seconds of the wake scenario (default 13; idle 3 s per round)
//	BENCH_FANOUT_N    connections in the fanout scenario (default 200)
//	BENCH_GO          1 (default): Go client rows for action-1/action-64 on both systems; 0: none
//	BENCH_RAW         1: also raw-fetch rows (bench/rivetkit/rawload.mjs) for action-1/action-64,
//	                  with the query URL the client sends and the direct /gateway/<id> URL
//	BENCH_RK_ENV      extra environment of every RivetKit server ("K=V K=V"), e.g.
//	                  RIVET__GUARD__TCP_NODELAY=true or LD_PRELOAD=... (the knobs tried in RESULTS.md)
//	BENCH_RK_LABEL    suffix of the RivetKit systems' names in the table (e.g. "+shim")
//	BENCH_RK_KEEP_BACKTRACE  1: keep RUST_BACKTRACE/RUST_LIB_BACKTRACE in the RivetKit
//	                  server's environment. By default they are removed: with
//	                  RUST_BACKTRACE=1 (set on this machine) the engine captures a
//	                  backtrace per request and spends ~20-40 ms CPU on it (RESULTS.md)
//	BENCH_RK_ACTOR    counter actor used on RivetKit (default counter; counterDurable
//	                  awaits saveState({immediate:true}) before replying)
//	BENCH_RG_PORT     rivetgo's port (default 6520)
//	BENCH_OUT         folder for the .md and .jsonl of this run (default bench/out)
import { execFileSync, spawn } from "node:child_process";
import fs from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, "..");
const rkDir = path.join(here, "rivetkit");
const env = process.env;

const SCENARIOS = (env.BENCH_SCENARIOS || "action-1,action-64,hot-64,ws-64,create,wake,fanout").split(",").filter(Boolean);
const SYSTEMS = (env.BENCH_SYSTEMS || "rivetgo,rivetkit,rivetkit-tuned").split(",").filter(Boolean);
const RG_DUR = Number(env.BENCH_RG_DURATION || 5);
const RK_DUR = Number(env.BENCH_RK_DURATION || 8);
const WAKE_DUR = Number(env.BENCH_WAKE_DURATION || 13);
const FANOUT_N = Number(env.BENCH_FANOUT_N || 200);
const WITH_GO = (env.BENCH_GO ?? "1") !== "0";
const WITH_RAW = env.BENCH_RAW === "1";
const RK_SUFFIX = env.BENCH_RK_LABEL || "";
// The RivetKit systems: a label and the server's extra environment.
const RK_SYSTEMS = {
	rivetkit: { label: `RivetKit${RK_SUFFIX}`, env: {} },
	"rivetkit-nodelay": { label: `RivetKit tcp_nodelay${RK_SUFFIX}`, env: { RIVET__GUARD__TCP_NODELAY: "true" } },
	"rivetkit-tuned": {
		label: `RivetKit tuned${RK_SUFFIX}`,
		env: { RIVET__GUARD__TCP_NODELAY: "true", RIVET__RUNTIME__WORKER_CPU_MAX: "64000" },
	},
};
for (const s of SYSTEMS) {
	if (s !== "rivetgo" && !RK_SYSTEMS[s]) throw new Error(`unknown system ${s} in BENCH_SYSTEMS`);
}
const RK_ACTOR = env.BENCH_RK_ACTOR || "counter";
const RG_PORT = Number(env.BENCH_RG_PORT || 6520);
const RK_PORT = 6420; // registry.start()'s engine; it also binds 6421 and 6430
const OUT = env.BENCH_OUT || path.join(here, "out");
const rkEnv = Object.fromEntries(
	(env.BENCH_RK_ENV || "")
		.split(/\s+/)
		.filter(Boolean)
		.map((kv) => [kv.slice(0, kv.indexOf("=")), kv.slice(kv.indexOf("=") + 1)]),
);
const goclient = env.BENCH_GOCLIENT || path.join(here, ".bin", "goclient");
const rivetgoBin = path.join(env.RIVETGO_BIN || path.join(root, "bin"), "rivetgo");

const DURABILITY = {
	rivetgo: "state written to JetStream KV before the reply",
	counter: `in memory at reply; flushed ≤${Number(env.BENCH_RK_ENV?.match(/BENCH_STATE_SAVE_INTERVAL=(\d+)/)?.[1] ?? 1000) / 1000} s later (stateSaveInterval)`,
	counterDurable: "saveState({immediate:true}) before the reply",
	sleepy: "in memory at reply; flushed ≤1 s later and at sleep",
};

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const log = (...a) => console.error(`[bench ${new Date().toISOString().slice(11, 19)}]`, ...a);

// ---- processes -----------------------------------------------------------

function procStat(pid) {
	try {
		const s = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
		const f = s.slice(s.lastIndexOf(")") + 2).split(" ");
		return { ppid: Number(f[1]), cpuTicks: Number(f[11]) + Number(f[12]), state: f[0] };
	} catch {
		return null;
	}
}
function procName(pid) {
	try {
		return fs.readFileSync(`/proc/${pid}/comm`, "utf8").trim();
	} catch {
		return "?";
	}
}
function vmHWM(pid) {
	try {
		const m = fs.readFileSync(`/proc/${pid}/status`, "utf8").match(/VmHWM:\s+(\d+) kB/);
		return m ? Number(m[1]) : 0;
	} catch {
		return 0;
	}
}
// descendants returns pid and every process below it.
function descendants(pid) {
	const kids = new Map();
	for (const d of fs.readdirSync("/proc")) {
		if (!/^\d+$/.test(d)) continue;
		const st = procStat(d);
		if (!st) continue;
		if (!kids.has(st.ppid)) kids.set(st.ppid, []);
		kids.get(st.ppid).push(Number(d));
	}
	const out = [pid];
	for (let i = 0; i < out.length; i++) out.push(...(kids.get(out[i]) || []));
	return out;
}
const TICK_MS = 1000 / Number(execFileSync("getconf", ["CLK_TCK"]).toString().trim() || 100);

function portOpen(port) {
	return new Promise((resolve) => {
		const s = net.connect({ host: "127.0.0.1", port });
		s.once("connect", () => {
			s.destroy();
			resolve(true);
		});
		s.once("error", () => resolve(false));
	});
}

const READY_BODY = Buffer.from([0x04, 0x00, 0x01, 0x80]); // BARE v4 HttpActionRequest, args = CBOR []

// ready polls a getOrCreate action on counter until it answers 200.
async function waitReady(endpoint, ms) {
	const deadline = Date.now() + ms;
	let last = "";
	while (Date.now() < deadline) {
		try {
			const r = await fetch(
				`${endpoint}/gateway/counter/action/getCount?rvt-namespace=default&rvt-method=getOrCreate&rvt-runner=default&rvt-key=bench-ready&rvt-crash-policy=sleep`,
				{ method: "POST", headers: { "x-rivet-encoding": "bare", "content-type": "application/octet-stream" }, body: READY_BODY, signal: AbortSignal.timeout(10_000) },
			);
			await r.arrayBuffer();
			if (r.status === 200) return;
			last = `HTTP ${r.status}`;
		} catch (e) {
			last = String(e?.message ?? e);
		}
		await sleep(300);
	}
	throw new Error(`${endpoint} not ready within ${ms} ms (${last})`);
}

class Server {
	constructor(system, cmd, args, opts, endpoint, logFile) {
		this.system = system;
		this.endpoint = endpoint;
		this.logFile = logFile;
		const fd = fs.openSync(logFile, "w");
		this.child = spawn(cmd, args, { ...opts, stdio: ["ignore", fd, fd] });
		fs.closeSync(fd);
		this.pids = new Set([this.child.pid]);
		this.exited = new Promise((r) => this.child.once("exit", r));
	}
	// track adds every current descendant; rivet-engine outlives node, so
	// it is remembered for stop().
	track() {
		for (const p of descendants(this.child.pid)) this.pids.add(p);
		return [...this.pids];
	}
	// cpu is the CPU time (ms) used so far by each server process, by name.
	cpu() {
		const per = {};
		for (const p of this.track()) {
			const n = procName(p);
			per[n] = (per[n] ?? 0) + (procStat(p)?.cpuTicks ?? 0) * TICK_MS;
		}
		return per;
	}
	peak() {
		const per = {};
		let sum = 0;
		for (const p of this.track()) {
			const kb = vmHWM(p);
			if (!kb) continue;
			per[`${procName(p)}:${p}`] = Math.round(kb / 1024);
			sum += kb;
		}
		return { sumMB: Math.round(sum / 1024), per };
	}
	async stop() {
		const pids = this.track();
		const alive = (p) => {
			const st = procStat(p);
			return st && st.state !== "Z";
		};
		try {
			process.kill(this.child.pid, "SIGTERM");
		} catch {}
		await Promise.race([this.exited, sleep(4000)]);
		for (const p of pids) {
			if (alive(p)) {
				try {
					process.kill(p, "SIGKILL");
				} catch {}
			}
		}
		await Promise.race([this.exited, sleep(2000)]);
	}
}

async function startRivetgo(dir) {
	if (await portOpen(RG_PORT)) throw new Error(`port ${RG_PORT} is in use (set BENCH_RG_PORT)`);
	const data = path.join(dir, "rivetgo-data");
	const s = new Server(
		"rivetgo",
		rivetgoBin,
		["-data.dir", data, "-http.addr", `127.0.0.1:${RG_PORT}`, "-nats.port", "-1", "-log.level", "warn"],
		{ env: { ...env, RIVETGO_LOG_LEVEL: "warn" } },
		`http://127.0.0.1:${RG_PORT}`,
		path.join(dir, "rivetgo.log"),
	);
	await waitReady(s.endpoint, 30_000);
	return s;
}

async function startRivetkit(dir, sys) {
	for (const p of [6420, 6421, 6430]) {
		for (let i = 0; (await portOpen(p)) && i < 20; i++) await sleep(500);
		if (await portOpen(p)) throw new Error(`port ${p} is in use: RivetKit's engine needs 6420, 6421 and 6430`);
	}
	const senv = { ...env, RIVETKIT_STORAGE_PATH: path.join(dir, "rivetkit-storage"), ...sys.env, ...rkEnv };
	if (env.BENCH_RK_KEEP_BACKTRACE !== "1") {
		delete senv.RUST_BACKTRACE;
		delete senv.RUST_LIB_BACKTRACE;
	}
	const s = new Server(
		sys.label,
		process.execPath,
		["server.mjs"],
		{ cwd: rkDir, env: senv },
		`http://127.0.0.1:${RK_PORT}`,
		path.join(dir, "rivetkit.log"),
	);
	await waitReady(s.endpoint, 90_000);
	return s;
}

// ---- runs ----------------------------------------------------------------

// runJSON runs a driver and resolves to the JSON line it printed last;
// onMark(what) is called at each "BENCH_MARK what" line on its stderr.
function runJSON(cmd, args, opts, limitMs, onMark) {
	return new Promise((resolve) => {
		const c = spawn(cmd, args, { ...opts, stdio: ["ignore", "pipe", "pipe"] });
		let out = "";
		let err = "";
		let partial = "";
		c.stdout.on("data", (d) => (out += d));
		c.stderr.on("data", (d) => {
			partial += d;
			const lines = partial.split("\n");
			partial = lines.pop();
			for (const l of lines) {
				const m = l.match(/^BENCH_MARK (\w+)/);
				if (m) onMark(m[1]);
				else err += l + "\n";
			}
		});
		const t = setTimeout(() => c.kill("SIGKILL"), limitMs);
		c.once("exit", (code) => {
			clearTimeout(t);
			const line = out.split("\n").reverse().find((l) => l.startsWith("{"));
			let res;
			try {
				res = line ? JSON.parse(line) : null;
			} catch {}
			if (!res) res = { fatal: `no result (exit ${code}): ${(err || out).slice(-400)}` };
			resolve(res);
		});
	});
}

async function measure(server, kind, scenario, extraArgs, durS) {
	const cpu = {};
	const onMark = (what) => (cpu[what] = server.cpu());
	const limit = (durS + 120) * 1000;
	let res;
	if (kind === "raw") {
		res = await runJSON(process.execPath, ["rawload.mjs", "--endpoint", server.endpoint, "--duration", String(durS), ...extraArgs], { cwd: rkDir }, limit, onMark);
	} else if (kind === "js") {
		res = await runJSON(
			process.execPath,
			["driver.mjs", "--endpoint", server.endpoint, "--scenario", scenario, "--duration", String(durS), "--system", server.system, ...extraArgs],
			{ cwd: rkDir },
			limit,
			onMark,
		);
	} else {
		res = await runJSON(
			goclient,
			["-endpoint", server.endpoint, "-scenario", scenario, "-duration", `${durS}s`, "-system", server.system, ...extraArgs],
			{},
			limit,
			onMark,
		);
	}
	res.system = server.system;
	if (cpu.start !== undefined && cpu.end !== undefined) {
		let used = 0;
		const by = {};
		for (const [n, ms] of Object.entries(cpu.end)) {
			const d = ms - (cpu.start[n] ?? 0);
			used += d;
			if (res.ops) by[n] = Number((d / res.ops).toFixed(3));
		}
		res.server_cpu_ms_per_op_by_process = by;
		res.server_cpu_ms_per_op = res.ops ? Number((used / res.ops).toFixed(3)) : null;
		res.server_cpu_cores = res.elapsed_s ? Number((used / 1000 / res.elapsed_s).toFixed(2)) : null;
	}
	log(`${scenario} ${server.system} ${res.client ?? kind}: ${JSON.stringify(res)}`);
	return res;
}

function scenarioArgs(system, scenario) {
	const isRK = system !== "rivetgo";
	const a = [];
	if (isRK && RK_ACTOR !== "counter") a.push("--actor", RK_ACTOR);
	if (scenario === "wake") a.push("--conc", "8", "--idle", "3");
	if (scenario === "fanout") a.push("--n", String(FANOUT_N));
	return a;
}

async function main() {
	fs.mkdirSync(OUT, { recursive: true });
	const stamp = new Date().toISOString().replace(/[:.]/g, "-").slice(0, 19);
	const work = fs.mkdtempSync(path.join(os.tmpdir(), "rivetgo-bench-"));
	const results = [];
	const t0 = Date.now();
	log(`scenarios ${SCENARIOS.join(",")}; systems ${SYSTEMS.join(",")}; work dir ${work}`);
	for (const scenario of SCENARIOS) {
		for (const system of SYSTEMS) {
			const isRK = system !== "rivetgo";
			const dir = path.join(work, `${scenario}-${system}`);
			fs.mkdirSync(dir);
			let server;
			const rows = [];
			try {
				server = isRK ? await startRivetkit(dir, RK_SYSTEMS[system]) : await startRivetgo(dir);
				const dur = scenario === "wake" ? WAKE_DUR : isRK ? RK_DUR : RG_DUR;
				rows.push(await measure(server, "js", scenario, scenarioArgs(system, scenario), dur));
				if (WITH_GO && (scenario === "action-1" || scenario === "action-64")) {
					const a = isRK && RK_ACTOR !== "counter" ? ["-actor", RK_ACTOR] : [];
					rows.push(await measure(server, "go", scenario, a, dur));
				}
				if (WITH_RAW && (scenario === "action-1" || scenario === "action-64")) {
					const c = scenario === "action-1" ? "1" : "64";
					const a = ["--conc", c, "--actor", isRK ? RK_ACTOR : "counter"];
					for (const form of ["query", "direct"]) {
						const r = await measure(server, "raw", scenario, [...a, "--form", form], dur);
						r.scenario = scenario;
						r.client = `raw fetch, ${form} URL`;
						rows.push(r);
					}
				}
			} catch (e) {
				rows.push({ scenario, system: isRK ? RK_SYSTEMS[system].label : "rivetgo", client: "js", fatal: String(e?.message ?? e) });
				log(`${scenario} ${system}: ${e?.message ?? e}`);
			} finally {
				if (server) {
					const peak = server.peak();
					await server.stop();
					for (const r of rows) {
						r.peak_rss_mb = peak.sumMB;
						r.peak_rss_by_process = peak.per;
					}
				}
			}
			for (const r of rows) {
				r.durability = isRK ? DURABILITY[r.scenario === "wake" ? "sleepy" : RK_ACTOR] : DURABILITY.rivetgo;
				results.push(r);
			}
		}
	}
	const elapsed = ((Date.now() - t0) / 1000).toFixed(0);
	const md = report(results, elapsed);
	fs.writeFileSync(path.join(OUT, `${stamp}.jsonl`), results.map((r) => JSON.stringify(r)).join("\n") + "\n");
	fs.writeFileSync(path.join(OUT, `${stamp}.md`), md);
	console.log(md);
	log(`wrote ${path.join(OUT, stamp)}.{md,jsonl}; took ${elapsed} s`);
	fs.rmSync(work, { recursive: true, force: true });
}

// ---- report --------------------------------------------------------------

function fmt(v, digits = 1) {
	if (v === null || v === undefined || Number.isNaN(v)) return "–";
	if (v >= 100) return Math.round(v).toLocaleString("en-US");
	return v.toFixed(digits);
}

function machine() {
	const sh = (c, a) => {
		try {
			return execFileSync(c, a, { stdio: ["ignore", "pipe", "ignore"] }).toString().trim();
		} catch {
			return "?";
		}
	};
	const model = (sh("lscpu", []).match(/Model name:\s*(.*)/) || [])[1] || "?";
	let rk = "?";
	try {
		rk = JSON.parse(fs.readFileSync(path.join(rkDir, "node_modules/rivetkit/package.json"), "utf8")).version;
	} catch {}
	return [
		`date ${new Date().toISOString()}, ${os.cpus().length} cores (nproc ${sh("nproc", [])}), ${model}, ${Math.round(os.totalmem() / 2 ** 30)} GiB`,
		`node ${process.version}, ${sh("go", ["version"])}, rivetkit ${rk}, rivetgo ${sh("git", ["-C", root, "describe", "--always", "--dirty"])}`,
	].join("\n");
}

function report(results, elapsed) {
	// One ratio column per RivetKit system: rivetgo's ops/s over that
	// system's (same scenario, same client, else its JS row), and its p50
	// over rivetgo's.
	const rkLabels = SYSTEMS.filter((x) => x !== "rivetgo").map((x) => RK_SYSTEMS[x].label);
	const rkRow = (label, scenario, client) =>
		results.find((r) => r.scenario === scenario && r.system === label && r.client === client && r.ops) ||
		results.find((r) => r.scenario === scenario && r.system === label && r.client === "js" && r.ops);
	const lines = [];
	lines.push(`Machine: ${machine().replace("\n", "  \n")}  `);
	lines.push(
		`Durations: rivetgo ${RG_DUR} s, RivetKit ${RK_DUR} s per run (wake ${WAKE_DUR} s); fanout ${FANOUT_N} connections; whole run ${elapsed} s.  \n` +
			`RivetKit server env: RUST_BACKTRACE ${env.BENCH_RK_KEEP_BACKTRACE === "1" ? `kept (${env.RUST_BACKTRACE ?? "unset"})` : "removed"}` +
			(Object.keys(rkEnv).length ? `; plus \`${env.BENCH_RK_ENV}\`` : "") +
			`. ${SYSTEMS.filter((x) => x !== "rivetgo" && x !== "rivetkit")
				.map((x) => `"${RK_SYSTEMS[x].label}" = ${Object.entries(RK_SYSTEMS[x].env).map(([k, v]) => `${k}=${v}`).join(" ")}`)
				.join("; ")}`,
	);
	lines.push("");
	lines.push(
		`| scenario | system | client | p50 ms | p99 ms | ops/s | ${rkLabels.map((l) => `rivetgo vs ${l}: ops/s ×; p50 ÷`).join(" | ")} | server CPU ms/op | client CPU ms/op | peak RSS MB | durability at reply |`,
	);
	lines.push(`|---|---|---|--:|--:|--:|${rkLabels.map(() => "--:|").join("")}--:|--:|--:|---|`);
	for (const r of results) {
		const ratios = rkLabels.map((label) => {
			if (r.system !== "rivetgo" || !r.ops) return "";
			const k = rkRow(label, r.scenario, r.client);
			if (!k?.ops_per_s || !r.ops_per_s || !r.p50_ms) return "";
			const rkc = k.client === r.client ? "" : ` (vs ${k.client})`;
			return `×${fmt(r.ops_per_s / k.ops_per_s)}; ÷${fmt(k.p50_ms / r.p50_ms)}${rkc}`;
		});
		const ratio = ratios.join(" | ");
		let note = "";
		if (r.fatal) note = ` **failed: ${String(r.fatal).slice(0, 120)}**`;
		else if (r.errors) note = ` (${r.errors} errors: ${String(r.first_error ?? "").slice(0, 80)})`;
		if (r.warmup_retries) note += ` (${r.warmup_retries} warm-up retries)`;
		if (r.scenario === "wake" && r.ops !== undefined) note += ` (${r.woke} woke, ${r.not_slept} not slept)`;
		if (r.scenario === "fanout" && r.n) note += ` (${r.increments} increments × ${r.n}; missing ${r.missing}; connect ${r.connect_s} s)`;
		const what = r.scenario === "fanout" ? "events/s" : "";
		lines.push(
			`| ${r.scenario}${note} | ${r.system} | ${r.client}${r.encoding && r.client === "go" ? ` (${r.encoding})` : ""} | ${fmt(r.p50_ms, 2)} | ${fmt(r.p99_ms, 2)} | ${fmt(r.ops_per_s)}${what ? ` ${what}` : ""} | ${ratio} | ${fmt(r.server_cpu_ms_per_op, 2)} | ${fmt(r.client_cpu_ms_per_op, 2)} | ${r.peak_rss_mb ?? "–"} | ${r.durability ?? ""} |`,
		);
	}
	lines.push("");
	lines.push(
		"p50/p99: latency of one awaited call measured in the client process (fanout: event receive − increment send, per delivery). " +
			"ops/s: completed calls per second of the timed part (fanout: deliveries/s; wake: limited by the idle time, not meaningful). " +
			"server CPU: utime+stime of every server process during the timed part ÷ ops. peak RSS: sum of VmHWM of the server processes " +
			"(rivetgo: one process; RivetKit: node + rivet-engine + rivet-services) over that server's life (one server per scenario and system).",
	);
	return lines.join("\n") + "\n";
}

main().catch((e) => {
	console.error(e);
	process.exit(1);
});
