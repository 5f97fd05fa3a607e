// Realtime features of the unmodified RivetKit client (rivetkit/client,
// pinned in package.json) against a rivetgo gateway, in each of the
// client's encodings: connections (handle.connect()), events, actions and
// errors over the socket, raw fetch and raw WebSocket, a connection refused
// by OnBeforeConnect, and an action in flight when the host holding the
// actor is killed (the connection moves; the action runs once).
//
// Run through `go test ./test -run TestRivetKitJSClientRealtime`, which
// starts a mesh of two hosts, sets RIVET_ENDPOINT, and serves
// RIVETGO_TEST_CONTROL (POST /kill-holder?actor_id=<id> kills -9 the host
// holding the actor and starts a replacement). By hand, against a running
// mesh, the reconnection tests are skipped:
//
//	RIVET_ENDPOINT=http://127.0.0.1:6420 node --test --test-reporter=spec realtime.test.mjs
//
// The actors are the Go examples (examples/counter.go, examples/chat.go).
// Waits are generous liveness bounds, never timing assertions.
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { after, before, describe, test } from "node:test";

import { createClient } from "rivetkit/client";

const endpoint = process.env.RIVET_ENDPOINT;
if (!endpoint) {
	throw new Error("RIVET_ENDPOINT is required (the gateway's URL, e.g. http://127.0.0.1:6420)");
}
const control = process.env.RIVETGO_TEST_CONTROL;

const RUN = `${Date.now().toString(36)}-${randomBytes(4).toString("hex")}`;

const T = { timeout: 60_000 };
// Liveness bound of one wait (an event, a status, a message).
const WAIT = 20_000;

const jsonSafe = (_k, v) => (typeof v === "bigint" ? `${v}n` : v);
const show = (v) => JSON.stringify(v, jsonSafe);

function errorText(e) {
	return show({ name: e?.name, group: e?.group, code: e?.code, message: e?.message, metadata: e?.metadata });
}

function assertGroupCode(e, group, code) {
	assert.equal(e?.group, group, `group of ${errorText(e)}`);
	assert.equal(e?.code, code, `code of ${errorText(e)}`);
}

// rejection awaits p, fails if it resolves, and returns what it rejected with.
async function rejection(p) {
	let value;
	try {
		value = await p;
	} catch (e) {
		return e;
	}
	assert.fail(`expected a rejection, got the value ${show(value)}`);
}

// within rejects with a message naming what did not happen in time.
function within(p, ms, what) {
	let timer;
	const t = new Promise((_, reject) => {
		timer = setTimeout(() => reject(new Error(`${what}: not within ${ms} ms`)), ms);
	});
	return Promise.race([p, t]).finally(() => clearTimeout(timer));
}

// waitUntil polls cond until it holds.
async function waitUntil(cond, ms, what) {
	const deadline = Date.now() + ms;
	while (!cond()) {
		if (Date.now() > deadline) {
			throw new Error(`${what}: not within ${ms} ms`);
		}
		await new Promise((r) => setTimeout(r, 20));
	}
}

// recorder subscribes to an event and keeps each call's arguments.
function recorder(conn, name) {
	const calls = [];
	conn.on(name, (...args) => calls.push(args));
	return calls;
}

// statuses records a connection's status changes.
function statuses(conn) {
	const seen = [];
	conn.onStatusChange((s) => seen.push(s));
	return seen;
}

function messageText(data) {
	if (typeof data === "string") return data;
	if (data instanceof ArrayBuffer) return Buffer.from(data).toString("utf8");
	if (ArrayBuffer.isView(data)) return Buffer.from(data.buffer, data.byteOffset, data.byteLength).toString("utf8");
	return String(data);
}

// killHolder asks the Go test to kill -9 the host holding actorId.
async function killHolder(actorId) {
	const res = await fetch(`${control}/kill-holder?actor_id=${encodeURIComponent(actorId)}`, { method: "POST" });
	const body = await res.text();
	assert.equal(res.status, 200, `kill-holder: ${body}`);
	return JSON.parse(body).killed;
}

for (const encoding of ["json", "cbor", "bare"]) {
	describe(`encoding ${encoding}`, () => {
		const key = (name) => `rt-${RUN}-${encoding}-${name}`;
		let client;
		const conns = [];
		// connect opens a connection that is disposed after the suite.
		const connect = (handle) => {
			const c = handle.connect();
			conns.push(c);
			return c;
		};

		before(() => {
			client = createClient({ endpoint, encoding });
		});
		after(async () => {
			for (const c of conns) {
				await c.dispose().catch(() => {});
			}
			await client?.dispose();
		});

		test("connect, subscribe, an action over the socket and its event", T, async () => {
			const h = client.counter.getOrCreate([key("conn")]);
			const conn = connect(h);
			const counts = recorder(conn, "count");
			await within(conn.ready, WAIT, "conn.ready");
			assert.equal(conn.connStatus, "connected");

			assert.equal(await conn.increment(2), 2);
			await waitUntil(() => counts.length >= 1, WAIT, `"count" event after increment(2) (got ${show(counts)})`);
			assert.deepEqual(counts[0], [2], `arguments of the first "count" event`);

			assert.equal(await conn.increment(3), 5);
			await waitUntil(() => counts.length >= 2, WAIT, `"count" event after increment(3)`);
			assert.deepEqual(counts[1], [5]);

			// A broadcast from an HTTP action reaches the connection too.
			assert.equal(await h.increment(10), 15);
			await waitUntil(() => counts.length >= 3, WAIT, `"count" event after an HTTP increment`);
			assert.deepEqual(counts[2], [15]);
			assert.equal(await conn.getCount(), 15);
			assert.equal(conn.connStatus, "connected");
		});

		test("reminder: setReminder(\"x\", 500) sends a reminder event about 500 ms later", T, async () => {
			const conn = connect(client.reminder.getOrCreate([key("reminder")]));
			const reminders = recorder(conn, "reminder");
			await within(conn.ready, WAIT, "conn.ready");
			const start = Date.now();
			const id = await conn.setReminder("x", 500);
			assert.equal(typeof id, "string", "setReminder returns the schedule id");
			await waitUntil(() => reminders.length >= 1, WAIT, `"reminder" event (got ${show(reminders)})`);
			const took = Date.now() - start;
			assert.deepEqual(reminders[0], [{ message: "x" }]);
			assert.ok(took >= 450 && took < 5000, `reminder after ${took} ms, want about 500`);
			// It fires once.
			await new Promise((r) => setTimeout(r, 700));
			assert.equal(reminders.length, 1, `reminder events: ${show(reminders)}`);
			assert.equal(await conn.getSent(), 1);
		});

		test("a UserError over the socket rejects that action only", T, async () => {
			const conn = connect(client.counter.getOrCreate([key("user-error")]));
			await within(conn.ready, WAIT, "conn.ready");
			const errors = [];
			conn.onError((e) => errors.push(e));

			const e = await rejection(conn.failUser());
			assertGroupCode(e, "user", "bad_thing");
			assert.equal(e.message, "nope, not allowed");
			assert.deepEqual(e.metadata, { limit: 3 });

			// The connection stays open and keeps working.
			assert.equal(await conn.increment(1), 1);
			assert.equal(conn.connStatus, "connected");
			assert.deepEqual(errors.map(errorText), [], "connection errors after an action error");
		});

		test("raw fetch reaches OnRequest", T, async () => {
			const h = client.counter.getOrCreate([key("fetch")]);
			assert.equal(await h.increment(3), 3);
			const res = await h.fetch("/hello/world?x=1", { method: "POST", body: "hi" });
			const text = await res.text();
			assert.equal(res.status, 200, `status of the raw fetch; body ${text}`);
			assert.match(res.headers.get("content-type") ?? "", /application\/json/);
			assert.deepEqual(JSON.parse(text), { path: "/hello/world", search: "?x=1", method: "POST", count: 3 });
		});

		test("raw WebSocket reaches OnWebSocket", T, async () => {
			const h = client.counter.getOrCreate([key("raw-ws")]);
			const ws = await h.webSocket("/raw/path?y=2");
			const got = [];
			let closed = null;
			ws.addEventListener("message", (ev) => got.push(messageText(ev.data)));
			ws.addEventListener("close", (ev) => {
				closed = { code: ev.code, reason: ev.reason };
			});
			try {
				await waitUntil(() => got.length >= 1 || closed, WAIT, "the raw WebSocket's greeting");
				assert.deepEqual(got, ["hello-from-raw-ws"], `messages (close ${show(closed)})`);
				ws.send("ping");
				await waitUntil(() => got.length >= 2 || closed, WAIT, "the echo of ping");
				assert.deepEqual(got, ["hello-from-raw-ws", "echo:ping"], `messages (close ${show(closed)})`);
				ws.send("second");
				await waitUntil(() => got.length >= 3 || closed, WAIT, "the echo of second");
				assert.deepEqual(got.slice(2), ["echo:second"]);
				assert.equal(closed, null, "the socket closed");
			} finally {
				ws.close(1000, "done");
			}
			await waitUntil(() => closed, WAIT, "the raw WebSocket's close");
		});

		test("OnBeforeConnect refuses a bad token with user/forbidden_conn", T, async () => {
			const room = [`org-${RUN}-${encoding}`, "guarded"];
			const conn = connect(client.chatRoom.getOrCreate(room, { params: { user: "x", token: "bad" } }));
			const seen = statuses(conn);
			const errors = [];
			const firstError = new Promise((resolve) =>
				conn.onError((e) => {
					errors.push(e);
					resolve(e);
				}),
			);
			// An action queued before the connection opens is rejected with
			// the refusal.
			const queued = conn.getOnline();

			const e = await within(firstError, WAIT, "onError after a refused connection");
			assertGroupCode(e, "user", "forbidden_conn");
			const qe = await within(rejection(queued), WAIT, "the queued action's rejection");
			assertGroupCode(qe, "user", "forbidden_conn");
			// The client gives up (idle); the close that follows the Error
			// frame may then set it to disconnected, without a retry.
			const gaveUp = () => ["idle", "disconnected"].includes(conn.connStatus);
			await waitUntil(gaveUp, WAIT, `status idle (changes ${show(seen)})`);
			assert.ok(!seen.includes("connected"), `the refused connection was connected: ${show(seen)}`);
			for (const err of errors) {
				assertGroupCode(err, "user", "forbidden_conn");
			}
			// The Error frame's metadata reaches onError (the close reason
			// carries none).
			assert.ok(
				errors.some((err) => err.metadata?.user === "x"),
				`no error carried the metadata {user:"x"}: ${errors.map(errorText).join(", ")}`,
			);

			// A good token connects to the same room; x is not online.
			const ok = connect(client.chatRoom.getOrCreate(room, { params: { user: "y", token: "good" } }));
			await within(ok.ready, WAIT, "ready with a good token");
			assert.deepEqual(await ok.getOnline(), ["y"]);
			// Meanwhile, the refused connection did not retry.
			assert.ok(gaveUp(), `status ${conn.connStatus} (changes ${show(seen)})`);
			assert.ok(!seen.includes("connecting") && !seen.includes("connected"), `the refused connection retried: ${show(seen)}`);
		});

		test("an action in flight when the host holding the actor is killed runs once on the next host", { ...T, timeout: 120_000, skip: !control && "needs RIVETGO_TEST_CONTROL (run through go test)" }, async () => {
			// Like the same call over HTTP: the gateway opens the connection
			// on the actor's next host and sends the action again (it
			// provably did not start), so the client keeps its socket.
			const h = client.counter.getOrCreate([key("reconnect")]);
			const conn = connect(h);
			const counts = recorder(conn, "count");
			await within(conn.ready, WAIT, "conn.ready");
			assert.equal(await conn.increment(4), 4);
			await waitUntil(() => counts.length >= 1, WAIT, `"count" event after increment(4)`);
			assert.deepEqual(counts.at(-1), [4]);

			const actorId = await h.resolve();
			const killed = await killHolder(actorId);
			// Sent while the holder is dead: it waits for the takeover.
			assert.equal(await within(conn.increment(1), 60_000, `increment(1) in flight after killing ${killed}`), 5);
			assert.equal(conn.connStatus, "connected");

			// Events flow again and the count survived the crash, once.
			const n = counts.length;
			assert.equal(await within(conn.increment(1), WAIT, "increment(1) after the move"), 6);
			await waitUntil(() => counts.length > n && counts.at(-1)[0] === 6, WAIT, `"count" event after the move (${show(counts)})`);
			assert.equal(await h.getCount(), 6);
			assert.equal(await h.resolve(), actorId, "the same actor");
		});
	});
}
