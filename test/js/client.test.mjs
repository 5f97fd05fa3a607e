// The unmodified RivetKit client (rivetkit/client, pinned in package.json)
// against a rivetgo gateway, in each of the client's encodings.
//
// Run through `go test ./test -run TestRivetKitJSClient`, which starts a mesh
// and sets RIVET_ENDPOINT; or by hand against a running mesh:
//
//	RIVET_ENDPOINT=http://127.0.0.1:6420 node --test --test-reporter=spec client.test.mjs
//
// The actors are the Go examples (examples/counter.go, examples/chat.go,
// examples/leaderboard.go, ...).
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { after, before, describe, test } from "node:test";

import { createClient } from "rivetkit/client";

const endpoint = process.env.RIVET_ENDPOINT;
if (!endpoint) {
	throw new Error("RIVET_ENDPOINT is required (the gateway's URL, e.g. http://127.0.0.1:6420)");
}

// Keys are unique per run and encoding, so reruns against one mesh and the
// encodings never share an actor.
const RUN = `${Date.now().toString(36)}-${randomBytes(4).toString("hex")}`;

// A get handle on a missing key retries actor/not_found 24 times, 100 ms
// apart, before it rejects: 30 s leaves room for that and a slow first call.
const T = { timeout: 30_000 };

// rejection awaits p, fails if it resolves, and returns what it rejected with.
async function rejection(p) {
	let value;
	try {
		value = await p;
	} catch (e) {
		return e;
	}
	assert.fail(`expected a rejection, got the value ${JSON.stringify(value, jsonSafe)}`);
}

const jsonSafe = (_k, v) => (typeof v === "bigint" ? `${v}n` : v);

// errorText describes an error for assertion messages.
function errorText(e) {
	return JSON.stringify(
		{ name: e?.name, group: e?.group, code: e?.code, message: e?.message, metadata: e?.metadata },
		jsonSafe,
	);
}

function assertGroupCode(e, group, code) {
	assert.equal(e?.group, group, `group of ${errorText(e)}`);
	assert.equal(e?.code, code, `code of ${errorText(e)}`);
}

for (const encoding of ["json", "cbor", "bare"]) {
	describe(`encoding ${encoding}`, () => {
		const key = (name) => `js-${RUN}-${encoding}-${name}`;
		let client;

		before(() => {
			client = createClient({ endpoint, encoding });
		});
		after(async () => {
			await client?.dispose();
		});

		test("getOrCreate: increment(5), increment(2), getCount()", T, async () => {
			const h = client.counter.getOrCreate([key("count")]);
			assert.equal(await h.increment(5), 5);
			assert.equal(await h.increment(2), 7);
			assert.equal(await h.getCount(), 7);
			// A second handle on the same key reaches the same actor.
			assert.equal(await client.counter.getOrCreate([key("count")]).getCount(), 7);
		});

		test("failUser rejects with the UserError's group, code, message and metadata", T, async () => {
			const h = client.counter.getOrCreate([key("user-error")]);
			const e = await rejection(h.failUser());
			assertGroupCode(e, "user", "bad_thing");
			assert.equal(e.message, "nope, not allowed");
			assert.deepEqual(e.metadata, { limit: 3 });
			// The actor still works after a failed action.
			assert.equal(await h.increment(1), 1);
		});

		test("failInternal is masked as rivetkit/internal_error", T, async () => {
			const e = await rejection(client.fixture.getOrCreate([key("internal-error")]).failInternal());
			assertGroupCode(e, "rivetkit", "internal_error");
			assert.equal(typeof e.message, "string");
			assert.ok(!e.message.includes("hunter2"), `the secret leaked: ${errorText(e)}`);
			assert.equal(e.message, "An internal error occurred");
		});

		test("leaderboard on c.DB: submitScore, top, and SQL errors as db/* errors", T, async () => {
			const h = client.leaderboard.getOrCreate([key("leaderboard")]);
			assert.equal(Number(await h.submitScore("ana", 120)), 1);
			assert.equal(Number(await h.submitScore("bo", 90)), 2);
			assert.equal(Number(await h.submitScore("ana", 150)), 3);
			const top = (await h.top(10)).map((e) => ({ player: e.player, score: Number(e.score) }));
			assert.deepEqual(top, [
				{ player: "ana", score: 150 },
				{ player: "bo", score: 90 },
			]);
			// A failing step (insert, then a user error) leaves no row.
			assertGroupCode(await rejection(h.submitScore("cy", -1)), "user", "invalid_score");
			// A CHECK constraint: the caller sees db/constraint; the actor keeps working.
			assertGroupCode(await rejection(h.submitScore("", 1)), "db", "constraint");
			assert.equal((await h.top(10)).length, 2);
		});

		test("get on a missing key rejects with actor/not_found", T, async () => {
			const e = await rejection(client.counter.get([key("missing")]).getCount());
			assertGroupCode(e, "actor", "not_found");
		});

		test("create with input reaches CreateState", T, async () => {
			const h = await client.counter.create([key("created")], { input: { start: 40 } });
			assert.equal(await h.increment(2), 42);
			// The key now names the created actor.
			assert.equal(await client.counter.get([key("created")]).getCount(), 42);
		});

		test("resolve() returns the actor id; getForId reaches the same actor", T, async () => {
			const h = client.counter.getOrCreate([key("resolve")]);
			assert.equal(await h.increment(3), 3);
			const id = await h.resolve();
			assert.equal(typeof id, "string");
			assert.ok(id.length > 0, "empty actor id");
			assert.equal(await h.resolve(), id, "a second resolve gives another id");
			assert.equal(await client.counter.get([key("resolve")]).resolve(), id, "get().resolve()");
			const byId = client.counter.getForId(id);
			assert.equal(await byId.getCount(), 3);
			assert.equal(await byId.increment(1), 4);
			assert.equal(await h.getCount(), 4);
		});

		test("create on a taken key rejects with actor/duplicate_key", T, async () => {
			const created = await client.counter.create([key("dup")], { input: { start: 1 } });
			assert.equal(await created.getCount(), 1);
			const e = await rejection(client.counter.create([key("dup")]));
			assertGroupCode(e, "actor", "duplicate_key");
			// A key taken through getOrCreate is taken as well.
			assert.equal(await client.counter.getOrCreate([key("dup-goc")]).increment(1), 1);
			const e2 = await rejection(client.counter.create([key("dup-goc")]));
			assertGroupCode(e2, "actor", "duplicate_key");
			// The first actor is untouched.
			assert.equal(await created.getCount(), 1);
		});

		test("compound key: chatRoomList creates the chatRoom it names", T, async () => {
			// ["org-acme…", "general"]: a two-part key, unique per run and encoding.
			const org = `org-acme-${RUN}-${encoding}`;
			const list = client.chatRoomList.getOrCreate([org, "general"]);
			const info = await list.createRoom("general", "topic");
			assert.deepEqual(info, { org, room: "general", topic: "topic" });
			assert.deepEqual(await list.listRooms(), ["general"]);

			// The room exists now: a get handle (no create) reaches it.
			// The sender comes from the connection params, not an argument.
			const room = client.chatRoom.get([org, "general"], { params: { user: "ann" } });
			const msg = await room.sendMessage("hi");
			assert.equal(msg?.sender, "ann", `message ${JSON.stringify(msg, jsonSafe)}`);
			assert.equal(msg.text, "hi");
			// "at" is a Go int64 of Unix ms; it arrives as a number.
			assert.ok(Math.abs(msg.at - Date.now()) < 60_000, `"at" is not now: ${JSON.stringify(msg, jsonSafe)}`);

			const history = await room.getHistory();
			assert.equal(history.length, 1, `history ${JSON.stringify(history, jsonSafe)}`);
			assert.deepEqual(history[0], msg);
			assert.deepEqual(await room.getRoomInfo(), info);
		});

		// Integers of 2^32 and more. A JS actor's number is sent by cbor-x
		// as a float64 and reaches the client as a number; JS integers of
		// 2^32 and more leave the client as float64 too. rivetgo sends Go
		// integers up to 2^53 as numbers and reads whole floats into Go
		// integer types.
		test("a Go int64 ≥ 2^32 in the output is a JS number", T, async () => {
			const room = client.chatRoom.getOrCreate([`org-${RUN}-${encoding}`, "int64-out"], { createWithInput: { topic: "t" }, params: { user: "ann" } });
			const msg = await room.sendMessage("hi");
			assert.equal(typeof msg.at, "number", `"at" of ${JSON.stringify(msg, jsonSafe)}`);
			assert.ok(msg.at > 2 ** 32);
		});

		test("a JS integer ≥ 2^32 as an action argument reaches a Go int64", T, async () => {
			// increment checks its int64 argument: ±1,000,000 at most.
			const e = await rejection(client.counter.getOrCreate([key("int64-arg")]).increment(5_000_000_000));
			assertGroupCode(e, "user", "amount_out_of_range");
			assert.deepEqual(e.metadata, { amount: 5_000_000_000, count: 0 });
		});

		test("a JS integer ≥ 2^32 in create input reaches a Go int64", T, async () => {
			// create input is CBOR in every encoding.
			const h = await client.counter.create([key("int64-input")], { input: { start: 5_000_000_000 } });
			assert.equal(await h.getCount(), 5_000_000_000);
		});

		test("workflow: the worker applies work messages and stops on a control message", T, async () => {
			const h = client.worker.getOrCreate([key("worker")]);
			await h.send("work", { amount: 5 });
			await h.send("work", { amount: 7 });
			await h.send("control", { type: "stop", reason: "done" });
			let st;
			for (let i = 0; i < 200; i++) {
				st = await h.getState();
				if (st.phase === "stopped") break;
				await new Promise((r) => setTimeout(r, 50));
			}
			assert.equal(st.phase, "stopped", JSON.stringify(st, jsonSafe));
			assert.equal(st.processed, 2);
			assert.equal(st.total, 12);
			assert.equal(st.stopReason, "done");
		});

		test("queue: send without wait, then with wait gets the run loop's completion", T, async () => {
			const h = client.counter.getOrCreate([key("queue-jobs")]);
			const r1 = await h.send("jobs", { n: 2 });
			assert.equal(r1?.status ?? "completed", "completed", JSON.stringify(r1, jsonSafe));
			const r2 = await h.send("jobs", { n: 3 }, { wait: true, timeout: 5000 });
			assert.equal(r2.status, "completed", JSON.stringify(r2, jsonSafe));
			assert.deepEqual(r2.response, { count: 5 });
			assert.equal(await h.getCount(), 5);
		});

		test("queue: a wait nobody completes times out; the message stays queued", T, async () => {
			const h = client.mailbox.getOrCreate([key("queue-timeout")]);
			const r = await h.send("inbox", { hello: "world" }, { wait: true, timeout: 300 });
			assert.equal(r.status, "timedOut", JSON.stringify(r, jsonSafe));
			let got;
			for (let i = 0; i < 50 && got == null; i++) {
				got = await h.take();
				if (got == null) await new Promise((res) => setTimeout(res, 50));
			}
			assert.deepEqual(got, { hello: "world" });
		});

		test("queue: an unknown queue, an oversized body and a full queue are refused", { timeout: 120_000 }, async () => {
			const h = client.mailbox.getOrCreate([key("queue-limits")]);
			assertGroupCode(await rejection(h.send("nope", 1)), "queue", "not_found");
			assertGroupCode(await rejection(h.send("inbox", "x".repeat(70 * 1024))), "queue", "message_too_large");
			for (let sent = 0; sent < 1000; sent += 50) {
				await Promise.all(Array.from({ length: 50 }, (_, i) => h.send("inbox", sent + i)));
			}
			assertGroupCode(await rejection(h.send("inbox", 1000)), "queue", "full");
			assert.equal(await h.take(), 0); // the oldest, and a slot frees up
			// The urgent queue's own limits: 1 KiB a note, 5 notes.
			assertGroupCode(await rejection(h.send("urgent", "x".repeat(2000))), "queue", "message_too_large");
			for (let i = 0; i < 5; i++) {
				await h.send("urgent", `note ${i}`);
			}
			assertGroupCode(await rejection(h.send("urgent", "one too many")), "queue", "full");
			assert.deepEqual(await h.take(), { urgent: "note 0" }); // urgent first
		});
	});
}
