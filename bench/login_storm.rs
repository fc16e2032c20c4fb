//! Login-storm benchmark: many clients sign in at once (wrong passwords, so every attempt
//! costs a full argon2id hash) while one client keeps loading an account page. Reports the
//! page's latency during the storm, how the sign-ins were answered, and the server's resident
//! memory (peak and current, from /proc).
//!
//! `cargo run --release --example login_storm -- URL SERVER_PID [CLIENTS] [SECONDS]`
//! Loopback only; it stops by itself.

use std::time::{Duration, Instant};

const PASSWORD: &str = "bench-password-123";

fn token(html: &str) -> String {
    let start = html.find("name=\"csrf_token\" value=\"").expect("a CSRF token") + 25;
    html[start..].split('"').next().unwrap().to_owned()
}

fn client() -> reqwest::Client {
    reqwest::Client::builder().cookie_store(true).redirect(reqwest::redirect::Policy::none()).build().unwrap()
}

async fn post_form(c: &reqwest::Client, base: &str, page: &str, action: &str, fields: &[(&str, &str)]) -> u16 {
    let html = c.get(format!("{base}{page}")).send().await.unwrap().text().await.unwrap();
    let t = token(&html);
    let mut form = vec![("csrf_token", t.as_str())];
    form.extend_from_slice(fields);
    c.post(format!("{base}{action}")).form(&form).send().await.map(|r| r.status().as_u16()).unwrap_or(0)
}

fn rss_kib(pid: u32) -> (u64, u64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    };
    (field("VmRSS:"), field("VmHWM:"))
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let base = args.get(1).cloned().unwrap_or_else(|| "http://127.0.0.1:8080".into());
    let pid: u32 = args.get(2).and_then(|p| p.parse().ok()).expect("the server's pid");
    let clients: usize = args.get(3).and_then(|p| p.parse().ok()).unwrap_or(200);
    let seconds: u64 = args.get(4).and_then(|p| p.parse().ok()).unwrap_or(15);
    assert!(base.starts_with("http://127.") || base.starts_with("http://localhost"), "loopback only");

    let viewer = client();
    let email = format!("storm-{}@example.com", std::process::id());
    post_form(
        &viewer,
        &base,
        "/signup",
        "/signup",
        &[("name", "Storm Viewer"), ("email", &email), ("password", PASSWORD)],
    )
    .await;
    // Signing up signs no one in (the address is to be verified): sign in, as a person does.
    post_form(&viewer, &base, "/login", "/login", &[("email", &email), ("password", PASSWORD)]).await;
    let home = viewer.get(format!("{base}/")).send().await.unwrap();
    let page = home.headers()["location"].to_str().unwrap().to_owned();

    let (rss_before, _) = rss_kib(pid);
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let mut storm = Vec::new();
    for n in 0..clients {
        let base = base.clone();
        storm.push(tokio::spawn(async move {
            let c = client();
            let mut statuses = std::collections::BTreeMap::<u16, u32>::new();
            let victim = format!("victim-{}@example.com", n % 50);
            while Instant::now() < deadline {
                let s = post_form(&c, &base, "/login", "/login", &[("email", &victim), ("password", "wrong")]).await;
                *statuses.entry(s).or_default() += 1;
            }
            statuses
        }));
    }
    let sampler = tokio::spawn(async move {
        let mut peak = 0;
        while Instant::now() < deadline {
            peak = peak.max(rss_kib(pid).0);
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        peak
    });
    let mut latencies = Vec::new();
    let mut page_errors = 0;
    while Instant::now() < deadline {
        let started = Instant::now();
        match viewer.get(format!("{base}{page}")).send().await {
            Ok(r) if r.status().is_success() => {
                let _ = r.bytes().await;
                latencies.push(started.elapsed());
            }
            _ => page_errors += 1,
        }
    }
    let mut totals = std::collections::BTreeMap::<u16, u32>::new();
    for task in storm {
        for (s, n) in task.await.unwrap() {
            *totals.entry(s).or_default() += n;
        }
    }
    let peak_sampled = sampler.await.unwrap();
    let (rss_after, hwm) = rss_kib(pid);
    latencies.sort();
    println!("login storm: {clients} clients for {seconds} s against {base}");
    println!("  sign-in answers by status: {totals:?}");
    println!(
        "  account page during the storm: {} loads, p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms, errors {page_errors}",
        latencies.len(),
        percentile(&latencies, 0.50).as_secs_f64() * 1e3,
        percentile(&latencies, 0.99).as_secs_f64() * 1e3,
        latencies.last().copied().unwrap_or_default().as_secs_f64() * 1e3
    );
    println!(
        "  server RSS: before {} MiB, peak sampled {} MiB, after {} MiB, VmHWM {} MiB",
        rss_before / 1024,
        peak_sampled / 1024,
        rss_after / 1024,
        hwm / 1024
    );
}
