//! Password verifications per second through `PasswordHasher` (Argon2id, 19 MiB, t=2) with
//! one slot per core: the bound for password sign-ins and the storm benchmark.
//! `cargo run --release -p gatehouse-core --example hash_rate -- [seconds]`

use std::time::{Duration, Instant};

use gatehouse_core::env::OsRandom;
use gatehouse_core::password::PasswordHasher;

#[tokio::main]
async fn main() {
    let secs: f64 = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(5.0);
    let cores = std::thread::available_parallelism().map_or(2, usize::from);
    let Ok(hasher) = PasswordHasher::new(cores) else {
        eprintln!("cannot build the hasher");
        return;
    };
    let Ok(phc) = hasher.hash("Correct-horse-1", &OsRandom).await else {
        eprintln!("cannot hash");
        return;
    };
    let deadline = Instant::now() + Duration::from_secs_f64(secs);
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..cores * 4 {
        let (h, phc) = (hasher.clone(), phc.clone());
        tasks.push(tokio::spawn(async move {
            let mut n = 0u64;
            while Instant::now() < deadline {
                if h.verify("wrong password", Some(&phc)).await.is_ok() {
                    n += 1;
                }
            }
            n
        }));
    }
    let mut total = 0;
    for t in tasks {
        total += t.await.unwrap_or(0);
    }
    let rate = total as f64 / started.elapsed().as_secs_f64();
    println!("{{\"slots\":{cores},\"verifications_per_sec\":{rate:.1}}}");
}
