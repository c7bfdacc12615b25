//! Embeds the web board (`web/`, or its build output `web/dist/` when present) into the binary, so
//! `contrail up` serves it wherever the binary runs.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// Never shipped: tests, tooling and dependencies of the board's own build.
const SKIP: &[&str] = &["node_modules", "tests", "test-results", "screenshots", "package.json", "package-lock.json"];

fn main() {
    let manifest = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").unwrap_or_default());
    let web = manifest.parent().map(|p| p.join("web")).unwrap_or_default();
    let root = if web.join("dist").join("index.html").is_file() { web.join("dist") } else { web.clone() };
    println!("cargo:rerun-if-changed={}", web.display());
    let mut files = Vec::new();
    collect(&root, &root, &mut files);
    for f in &files {
        println!("cargo:rerun-if-changed={}", f.1.display());
    }
    files.sort();
    let mut out =
        String::from("/// The web board's files: (URL path, bytes).\npub static ASSETS: &[(&str, &[u8])] = &[\n");
    for (url, path) in &files {
        let _ = writeln!(out, "    ({url:?}, include_bytes!({:?})),", path.display().to_string());
    }
    out.push_str("];\n");
    let dest = PathBuf::from(std::env::var("OUT_DIR").unwrap_or_default()).join("web_assets.rs");
    if let Err(e) = std::fs::write(&dest, out) {
        panic!("writing {}: {e}", dest.display());
    }
}

fn collect(root: &Path, dir: &Path, out: &mut Vec<(String, PathBuf)>) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for entry in entries.flatten() {
        let path = entry.path();
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with('.') || SKIP.contains(&name.as_str()) {
            continue;
        }
        if path.is_dir() {
            collect(root, &path, out);
        } else if let Ok(rel) = path.strip_prefix(root) {
            let url = format!("/{}", rel.to_string_lossy().replace('\\', "/"));
            let abs = path.canonicalize().unwrap_or(path.clone());
            out.push((url, abs));
        }
    }
}
