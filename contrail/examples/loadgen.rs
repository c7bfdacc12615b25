//! A small closed-loop HTTP load generator for `bench/local-stack.sh`: `concurrency` keep-alive
//! clients send GETs to the URLs given (round robin) for `duration` seconds after a one-second warm-up,
//! then one JSON line reports requests/s and latency percentiles.
//!
//! `cargo run --release -p contrail --example loadgen -- URL [URL...] [--token T] [--concurrency N]
//! [--duration SECONDS]`

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut urls = Vec::new();
    let (mut token, mut concurrency, mut duration) = (None, 8usize, 10u64);
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--token" => token = args.next(),
            "--concurrency" => concurrency = args.next().and_then(|v| v.parse().ok()).ok_or("--concurrency N")?,
            "--duration" => duration = args.next().and_then(|v| v.parse().ok()).ok_or("--duration SECONDS")?,
            _ => urls.push(a),
        }
    }
    if urls.is_empty() {
        return Err("usage: loadgen URL [URL...] [--token T] [--concurrency N] [--duration SECONDS]".into());
    }
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?;
    rt.block_on(run(Arc::new(urls), token, concurrency, Duration::from_secs(duration)))
}

async fn run(
    urls: Arc<Vec<String>>,
    token: Option<String>,
    concurrency: usize,
    duration: Duration,
) -> Result<(), Box<dyn std::error::Error>> {
    let client = reqwest::Client::builder().pool_max_idle_per_host(concurrency).build()?;
    let measuring = Arc::new(AtomicBool::new(false));
    let stop = Arc::new(AtomicBool::new(false));
    let mut tasks = Vec::new();
    for worker in 0..concurrency {
        let (client, urls, token, measuring, stop) =
            (client.clone(), Arc::clone(&urls), token.clone(), Arc::clone(&measuring), Arc::clone(&stop));
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            let (mut errors, mut statuses) = (0u64, std::collections::BTreeMap::<u16, u64>::new());
            let mut i = worker;
            while !stop.load(Ordering::Relaxed) {
                let url = &urls[i % urls.len()];
                i += 1;
                let mut req = client.get(url);
                if let Some(t) = &token {
                    req = req.bearer_auth(t);
                }
                let started = Instant::now();
                let result = match req.send().await {
                    Ok(r) => {
                        let status = r.status().as_u16();
                        r.bytes().await.map(|_| status)
                    }
                    Err(e) => Err(e),
                };
                let took = started.elapsed();
                if measuring.load(Ordering::Relaxed) {
                    match result {
                        Ok(status) => {
                            latencies.push(took.as_micros() as u64);
                            *statuses.entry(status).or_default() += 1;
                        }
                        Err(_) => errors += 1,
                    }
                }
            }
            (latencies, errors, statuses)
        }));
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    measuring.store(true, Ordering::Relaxed);
    let started = Instant::now();
    tokio::time::sleep(duration).await;
    measuring.store(false, Ordering::Relaxed);
    let elapsed = started.elapsed().as_secs_f64();
    stop.store(true, Ordering::Relaxed);
    let mut all = Vec::new();
    let mut errors = 0;
    let mut statuses = std::collections::BTreeMap::<u16, u64>::new();
    for t in tasks {
        let (l, e, s) = t.await?;
        all.extend(l);
        errors += e;
        for (k, v) in s {
            *statuses.entry(k).or_default() += v;
        }
    }
    all.sort_unstable();
    let pct =
        |p: f64| all.get(((all.len() as f64 * p) as usize).min(all.len().saturating_sub(1))).copied().unwrap_or(0);
    let line = serde_json::json!({
        "requests": all.len(),
        "errors": errors,
        "statuses": statuses,
        "requests_per_second": (all.len() as f64 / elapsed).round(),
        "p50_ms": pct(0.50) as f64 / 1000.0,
        "p99_ms": pct(0.99) as f64 / 1000.0,
        "concurrency": concurrency,
    });
    println!("{line}");
    Ok(())
}
