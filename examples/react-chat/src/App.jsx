// The chat room example (examples/chat.go, actor "chatRoom", keyed by
// [org, room]) from React: @rivetkit/react's useActor opens one connection
// per room; messages go out with connection.sendMessage and come in live
// on the "newMessage" event; "presence" says who is online.
import { createRivetKit } from "@rivetkit/react";
import { useEffect, useMemo, useState } from "react";

const ORG = "react-demo";

export function App({ endpoint, encoding, user: user0, room: room0 }) {
	// One client (and so one set of connections) per endpoint.
	const { useActor } = useMemo(() => createRivetKit({ endpoint, encoding }), [endpoint, encoding]);
	const [joined, setJoined] = useState(null);
	const [user, setUser] = useState(user0);
	const [room, setRoom] = useState(room0);

	if (joined) {
		return <Room useActor={useActor} user={joined.user} room={joined.room} onLeave={() => setJoined(null)} />;
	}
	return (
		<form
			id="join"
			onSubmit={(e) => {
				e.preventDefault();
				if (user.trim() && room.trim()) setJoined({ user: user.trim(), room: room.trim() });
			}}
		>
			<h1>Join a room</h1>
			<input id="user" placeholder="your name" value={user} onChange={(e) => setUser(e.target.value)} />
			<input id="room" placeholder="room" value={room} onChange={(e) => setRoom(e.target.value)} />
			<button type="submit">Join</button>
			<p className="hint">gateway: {endpoint}</p>
		</form>
	);
}

function Room({ useActor, user, room, onLeave }) {
	const chat = useActor({ name: "chatRoom", key: [ORG, room], params: { user, token: "demo" } });
	const [messages, setMessages] = useState([]);
	const [online, setOnline] = useState([]);
	const [text, setText] = useState("");
	const [error, setError] = useState("");

	// Live updates: every connection of the room gets these events. Each
	// message remembers whether it came live or from the history.
	chat.useEvent("newMessage", (m) => setMessages((ms) => [...ms, { ...m, source: "event" }]));
	chat.useEvent("presence", (users) => setOnline(users));

	// On (re)connect, load what was said before.
	useEffect(() => {
		if (!chat.connection || !chat.isConnected) return;
		let live = true;
		chat.connection.getHistory().then((h) => live && setMessages(h.map((m) => ({ ...m, source: "history" }))), (e) => live && setError(String(e?.message ?? e)));
		chat.connection.getOnline().then((u) => live && setOnline(u), () => {});
		return () => {
			live = false;
		};
	}, [chat.connection, chat.isConnected]);

	async function send(e) {
		e.preventDefault();
		if (!text.trim() || !chat.connection) return;
		try {
			await chat.connection.sendMessage(text);
			setText("");
			setError("");
		} catch (err) {
			setError(`${err?.group ?? ""}/${err?.code ?? ""}: ${err?.message ?? err}`);
		}
	}

	return (
		<main>
			<header>
				<h1>
					#{room} <small>as {user}</small>
				</h1>
				<span id="status" className={chat.connStatus}>
					{chat.connStatus}
				</span>
				<button type="button" onClick={onLeave}>
					Leave
				</button>
			</header>
			<p id="online">online: {online.join(", ")}</p>
			<ul id="messages">
				{messages.map((m, i) => (
					<li key={`${m.at}-${i}`} data-source={m.source}>
						<b>{m.sender}</b> {m.text}
					</li>
				))}
			</ul>
			<form id="send" onSubmit={send}>
				<input id="text" placeholder="message" value={text} onChange={(e) => setText(e.target.value)} />
				<button type="submit" disabled={!chat.isConnected}>
					Send
				</button>
			</form>
			{(error || chat.error) && <p id="error">{error || String(chat.error?.message ?? chat.error)}</p>}
		</main>
	);
}
