// Vite builds the page into dist/ (make react-chat). React's JSX goes
// through Vite's own esbuild (no @vitejs/plugin-react needed).
import { defineConfig } from "vite";

export default defineConfig({
	// Relative asset URLs: dist/ can be served from any path.
	base: "./",
	esbuild: { jsx: "automatic" },
	build: {
		outDir: "dist",
		emptyOutDir: true,
		rollupOptions: {
			// zod (a rivetkit dependency) has comments Rollup cannot place: noise.
			onwarn(warning, warn) {
				if (warning.code !== "INVALID_ANNOTATION") warn(warning);
			},
		},
	},
});
