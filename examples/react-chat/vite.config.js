// Vite builds the page into dist/ (make react-chat). React's JSX goes
// through Vite's own esbuild (no @vitejs/plugin-react needed).
import { defineConfig } from "vite";

export default defineConfig({
	// Relative asset URLs: dist/ can be served from any path.
	base: "./",
	esbuild: { jsx: "automatic" },
	build: { outDir: "dist", emptyOutDir: true },
});
