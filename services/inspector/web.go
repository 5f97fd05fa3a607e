package inspector

import (
	"embed"
	"io/fs"
	"net/http"
)

// The dashboard: plain HTML and JavaScript embedded in the binary (no
// build step, no CDN). It holds no data; every view calls the API with
// the admin token the user typed (kept in the browser's localStorage).

//go:embed web
var webFiles embed.FS

func webHandler() http.Handler {
	sub, err := fs.Sub(webFiles, "web")
	if err != nil {
		panic(err)
	}
	fsrv := http.FileServerFS(sub)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Security-Policy", "default-src 'self'")
		w.Header().Set("X-Content-Type-Options", "nosniff")
		fsrv.ServeHTTP(w, r)
	})
}
