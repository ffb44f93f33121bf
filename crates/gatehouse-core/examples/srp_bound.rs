//! The bound the SRP arithmetic sets on USER_SRP_AUTH: how many sign-ins per second this machine
//! could serve if the server did nothing but its share of the protocol's modular exponentiations
//! (and the few hashes around them): `g^b` (in B = k·v + g^b), then `v^u` and `(A·v^u)^b`, with
//! the same constant-time code, group and exponent sizes as the server. Used by `bench/srp.py`.
//!
//! ```text
//! cargo run --release -p gatehouse-core --example srp_bound -- --threads 2 --seconds 5
//! {"threads":2,"seconds":5.000,"sign_ins":1234,"sign_ins_per_sec":246.8,"cpu_ms_per_sign_in":8.10}
//! ```

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use gatehouse_core::srp::math;
use rand::RngCore;

fn usage() -> ! {
    eprintln!("usage: srp_bound [--threads N] [--seconds S]");
    std::process::exit(2)
}

fn main() {
    let mut threads: usize = 2;
    let mut seconds: f64 = 5.0;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let value = args.next().unwrap_or_else(|| usage());
        match arg.as_str() {
            "--threads" => threads = value.parse().unwrap_or_else(|_| usage()),
            "--seconds" => seconds = value.parse().unwrap_or_else(|_| usage()),
            _ => usage(),
        }
    }
    if threads == 0 || !(seconds > 0.0 && seconds <= 600.0) {
        usage();
    }

    // A user's verifier and a client's A, as in a real sign-in.
    let mut rng = rand::rngs::OsRng;
    let mut salt = [0u8; 16];
    rng.fill_bytes(&mut salt);
    let v = math::verifier("AbCdEfGhI", "benchuser", "Bench-Passw0rd!9", &salt);
    let mut a = [0u8; 32];
    rng.fill_bytes(&mut a);
    let big_a = math::client::public(&math::secret_exponent(&a));

    let duration = Duration::from_secs_f64(seconds);
    let stop = AtomicBool::new(false);
    let start = Instant::now();
    let total: u64 = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..threads)
            .map(|_| {
                scope.spawn(|| {
                    let mut rng = rand::rngs::OsRng;
                    let mut count: u64 = 0;
                    let mut sink = 0u8;
                    while !stop.load(Ordering::Relaxed) {
                        let mut b = [0u8; 32];
                        rng.fill_bytes(&mut b);
                        let b = math::secret_exponent(&b);
                        let big_b = math::server_public(&v, &b);
                        match math::session_key(&big_a, &big_b, &v, &b) {
                            Ok(k) => sink ^= k[0],
                            Err(e) => {
                                eprintln!("session key failed: {e:?}");
                                std::process::exit(1)
                            }
                        }
                        count += 1;
                    }
                    std::hint::black_box(sink);
                    count
                })
            })
            .collect();
        std::thread::sleep(duration);
        stop.store(true, Ordering::Relaxed);
        workers.into_iter().map(|w| w.join().unwrap_or(0)).sum()
    });
    let elapsed = start.elapsed().as_secs_f64();
    let per_sec = total as f64 / elapsed;
    let cpu_ms = if total > 0 {
        threads as f64 * elapsed * 1000.0 / total as f64
    } else {
        0.0
    };
    println!(
        "{{\"threads\":{threads},\"seconds\":{elapsed:.3},\"sign_ins\":{total},\"sign_ins_per_sec\":{per_sec:.1},\"cpu_ms_per_sign_in\":{cpu_ms:.3}}}"
    );
}
