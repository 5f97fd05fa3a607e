// The page's entry: read the settings from the query string and mount the
// app. ?endpoint= is the gateway (default: VITE_RIVET_ENDPOINT at build time,
// else http://127.0.0.1:6420); ?encoding= is the client's (bare, the default,
// cbor or json); ?user= and ?room= prefill the join form.
import { StrictMode } from "react";
import { createRoot } from "react-dom/client";

import { App } from "./App.jsx";

const q = new URLSearchParams(location.search);
const endpoint = q.get("endpoint") || import.meta.env.VITE_RIVET_ENDPOINT || "http://127.0.0.1:6420";

createRoot(document.getElementById("root")).render(
	<StrictMode>
		<App endpoint={endpoint} encoding={q.get("encoding") || undefined} user={q.get("user") || ""} room={q.get("room") || ""} />
	</StrictMode>,
);
