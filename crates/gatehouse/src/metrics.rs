//! Request metrics in the Prometheus text format at `/metrics`: counts and total time per
//! listener, operation and status. Lock-free on the hot path once a series exists.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

#[derive(Clone, PartialEq, Eq, Hash)]
struct Key {
    listener: &'static str,
    op: String,
    status: u16,
}

#[derive(Default)]
struct Series {
    count: AtomicU64,
    micros: AtomicU64,
}

/// Writes more Prometheus lines (gauges and counters kept elsewhere).
type Source = Box<dyn Fn(&mut String) + Send + Sync>;

#[derive(Default)]
pub struct Metrics {
    series: RwLock<HashMap<Key, Arc<Series>>>,
    sources: RwLock<Vec<Source>>,
}

impl Metrics {
    pub fn record(&self, listener: &'static str, op: &str, status: u16, micros: u64) {
        let key = Key {
            listener,
            op: op.to_string(),
            status,
        };
        let existing = self.series.read().ok().and_then(|m| m.get(&key).cloned());
        let series = match existing {
            Some(s) => s,
            None => match self.series.write() {
                Ok(mut m) => Arc::clone(m.entry(key).or_default()),
                Err(_) => return,
            },
        };
        series.count.fetch_add(1, Ordering::Relaxed);
        series.micros.fetch_add(micros, Ordering::Relaxed);
    }

    /// Adds lines that `render` writes after the request series.
    pub fn add_source(&self, source: impl Fn(&mut String) + Send + Sync + 'static) {
        if let Ok(mut s) = self.sources.write() {
            s.push(Box::new(source));
        }
    }

    pub fn render(&self) -> String {
        let mut out = String::new();
        out.push_str("# HELP gatehouse_requests_total Requests answered.\n");
        out.push_str("# TYPE gatehouse_requests_total counter\n");
        let Ok(map) = self.series.read() else {
            return out;
        };
        let mut rows: Vec<_> = map.iter().collect();
        rows.sort_by(|a, b| {
            (a.0.listener, &a.0.op, a.0.status).cmp(&(b.0.listener, &b.0.op, b.0.status))
        });
        for (k, s) in &rows {
            let _ = writeln!(
                out,
                "gatehouse_requests_total{{listener=\"{}\",operation=\"{}\",status=\"{}\"}} {}",
                k.listener,
                k.op,
                k.status,
                s.count.load(Ordering::Relaxed)
            );
        }
        out.push_str(
            "# HELP gatehouse_request_duration_seconds_sum Time spent answering requests.\n",
        );
        out.push_str("# TYPE gatehouse_request_duration_seconds_sum counter\n");
        for (k, s) in &rows {
            let _ = writeln!(
                out,
                "gatehouse_request_duration_seconds_sum{{listener=\"{}\",operation=\"{}\",status=\"{}\"}} {:.6}",
                k.listener,
                k.op,
                k.status,
                s.micros.load(Ordering::Relaxed) as f64 / 1e6
            );
        }
        drop(map);
        if let Ok(sources) = self.sources.read() {
            for source in sources.iter() {
                source(&mut out);
            }
        }
        out
    }
}
