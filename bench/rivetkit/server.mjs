// A real RivetKit 2.3.19 server for bench/run.sh: registry.start() spawns the
// bundled rivet-engine (API and gateway on :6420, also :6421 and :6430) and
// runs these actors in the native runtime. Clients use createClient("http://127.0.0.1:6420").
//
//	node server.mjs
//
// The actors mirror rivetgo's examples (examples/counter.go, examples/sleepy.go):
//
//	counter        increment(amount) → new count, broadcast "count"; getCount()
//	               State is flushed by RivetKit's default stateSaveInterval (1 s),
//	               so a reply can precede durability (RivetKit's default).
//	counterDurable the same, but increment awaits c.saveState({immediate: true})
//	               before replying: rivetgo's durability (write before reply).
//	sleepy         set(v) / get(), sleepTimeout 1000 ms (rivetgo: SleepTimeout 1 s);
//	               onWake counts wakes, as in rivetgo.
//
// Env knobs (for the slowness analysis; the defaults are RivetKit's):
//
//	BENCH_STATE_SAVE_INTERVAL  counter's stateSaveInterval in ms (default 1000)
import { actor, setup, UserError } from "rivetkit";

const stateSaveInterval = Number(process.env.BENCH_STATE_SAVE_INTERVAL || 1000);

function checkAmount(c, amount) {
	if (amount > 1_000_000 || amount < -1_000_000) {
		throw new UserError("amount must be within ±1,000,000", {
			code: "amount_out_of_range",
			metadata: { amount, count: c.state.count },
		});
	}
}

const counter = actor({
	createState: (_c, input) => ({ count: input?.start ?? 0 }),
	actions: {
		increment: (c, amount) => {
			checkAmount(c, amount);
			c.state.count += amount;
			c.broadcast("count", c.state.count);
			return c.state.count;
		},
		getCount: (c) => c.state.count,
		reset: (c) => {
			c.state.count = 0;
		},
	},
	options: { stateSaveInterval },
});

const counterDurable = actor({
	createState: (_c, input) => ({ count: input?.start ?? 0 }),
	actions: {
		increment: async (c, amount) => {
			checkAmount(c, amount);
			c.state.count += amount;
			await c.saveState({ immediate: true });
			c.broadcast("count", c.state.count);
			return c.state.count;
		},
		getCount: (c) => c.state.count,
	},
});

const sleepy = actor({
	state: { value: 0, wakes: 0 },
	onWake: (c) => {
		c.state.wakes++;
	},
	actions: {
		set: (c, v) => {
			c.state.value = v;
			return { ...c.state };
		},
		get: (c) => ({ ...c.state }),
	},
	options: { sleepTimeout: 1000 },
});

export const registry = setup({ use: { counter, counterDurable, sleepy } });
registry.start();
