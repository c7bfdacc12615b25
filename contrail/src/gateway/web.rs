//! The web board, embedded at build time, and `/config.js`, which points it at this API and pre-fills
//! the dev token.

include!(concat!(env!("OUT_DIR"), "/web_assets.rs"));

/// The embedded file for a request path (`/` is `/index.html`).
pub fn asset(path: &str) -> Option<(&'static str, &'static [u8])> {
    let path = if path == "/" { "/index.html" } else { path };
    ASSETS.iter().find(|(p, _)| *p == path).map(|(p, bytes)| (content_type(p), *bytes))
}

/// The page's configuration script: same-origin API, the token `up` minted.
pub fn config_js(dev_token: Option<&str>) -> String {
    let config = serde_json::json!({ "apiBaseUrl": "", "devToken": dev_token });
    format!("window.CONTRAIL_CONFIG = {config};\n")
}

fn content_type(path: &str) -> &'static str {
    match path.rsplit_once('.').map(|(_, ext)| ext) {
        Some("html") => "text/html; charset=utf-8",
        Some("js" | "mjs") => "text/javascript; charset=utf-8",
        Some("css") => "text/css; charset=utf-8",
        Some("json" | "map") => "application/json; charset=utf-8",
        Some("svg") => "image/svg+xml",
        Some("png") => "image/png",
        Some("ico") => "image/x-icon",
        Some("webmanifest") => "application/manifest+json",
        Some("woff2") => "font/woff2",
        Some("txt" | "md") => "text/plain; charset=utf-8",
        _ => "application/octet-stream",
    }
}
