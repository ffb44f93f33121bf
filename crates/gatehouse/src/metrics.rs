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

/// Series a thread used lately, by the `Metrics` they belong to.
type Recent = Vec<(usize, Key, Arc<Series>)>;
const RECENT_PER_THREAD: usize = 32;

thread_local! {
    static RECENT: std::cell::RefCell<Recent> = const { std::cell::RefCell::new(Vec::new()) };
}

pub struct Metrics {
    /// Unique in the process, for the threads' caches of series (`RECENT`).
    id: usize,
    series: RwLock<HashMap<Key, Arc<Series>>>,
    sources: RwLock<Vec<Source>>,
}

impl Default for Metrics {
    fn default() -> Self {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        Self {
            id: NEXT.fetch_add(1, Ordering::Relaxed) as usize,
            series: RwLock::default(),
            sources: RwLock::default(),
        }
    }
}

impl Metrics {
    pub fn record(&self, listener: &'static str, op: &str, status: u16, micros: u64) {
        let series = match self.cached(listener, op, status) {
            Some(s) => s,
            None => {
                let key = Key {
                    listener,
                    op: op.to_string(),
                    status,
                };
                let existing = self.series.read().ok().and_then(|m| m.get(&key).cloned());
                let series = match existing {
                    Some(s) => s,
                    None => match self.series.write() {
                        Ok(mut m) => Arc::clone(m.entry(key.clone()).or_default()),
                        Err(_) => return,
                    },
                };
                self.remember(key, &series);
                series
            }
        };
        series.count.fetch_add(1, Ordering::Relaxed);
        series.micros.fetch_add(micros, Ordering::Relaxed);
    }

    /// The series this thread last used for the key, if any: no allocation, no hashing, no
    /// shared lock on the path of every request once a thread has seen its few keys.
    fn cached(&self, listener: &'static str, op: &str, status: u16) -> Option<Arc<Series>> {
        RECENT.with(|r| {
            r.borrow()
                .iter()
                .find(|(owner, k, _)| {
                    *owner == self.id()
                        && k.status == status
                        && k.op == op
                        && std::ptr::eq(k.listener, listener)
                })
                .map(|(_, _, s)| Arc::clone(s))
        })
    }

    fn remember(&self, key: Key, series: &Arc<Series>) {
        RECENT.with(|r| {
            let mut r = r.borrow_mut();
            if r.len() >= RECENT_PER_THREAD {
                r.remove(0);
            }
            r.push((self.id(), key, Arc::clone(series)));
        });
    }

    fn id(&self) -> usize {
        self.id
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_registry_counts_its_own_requests_through_the_thread_cache() {
        let a = Metrics::default();
        let b = Metrics::default();
        for _ in 0..3 {
            a.record("gateway", "other", 200, 10);
        }
        b.record("gateway", "other", 200, 5);
        a.record("gateway", "other", 404, 1);
        // More keys than a thread remembers: the shared map still counts them all.
        for i in 0..40 {
            a.record("control", &format!("Op{i}"), 200, 1);
        }
        a.record("gateway", "other", 200, 10);
        let text = a.render();
        assert!(text.contains(
            "gatehouse_requests_total{listener=\"gateway\",operation=\"other\",status=\"200\"} 4\n"
        ));
        assert!(text.contains(
            "gatehouse_requests_total{listener=\"gateway\",operation=\"other\",status=\"404\"} 1\n"
        ));
        assert!(text.contains(
            "gatehouse_requests_total{listener=\"control\",operation=\"Op39\",status=\"200\"} 1\n"
        ));
        assert!(text.contains("operation=\"other\",status=\"200\"} 0.000040\n"));
        assert!(b.render().contains(
            "gatehouse_requests_total{listener=\"gateway\",operation=\"other\",status=\"200\"} 1\n"
        ));
    }
}
