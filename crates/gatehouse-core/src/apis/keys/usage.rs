//! Usage: quota periods (UTC days, ISO weeks from Monday, calendar months), GetUsage's daily
//! `[used, remaining]` per key, UpdateUsage (`replace /remaining`), and what the data plane
//! reads and writes: the served keys and plans, the counters to start from, and the counts it
//! flushes.

use std::collections::BTreeMap;

use gatehouse_store::api_keys::{ApiKey, QuotaSettings, UsageCount, UsagePlan};
use gatehouse_store::Page;

use super::key_not_found;
use crate::apis::rest::patch::{need_value, parse_int};
use crate::apis::rest::{PatchKind, PatchOp, RestPage};
use crate::apis::{ApiError, ApiResult, ApiService};
use crate::error::Result;

pub const SECS_PER_DAY: i64 = 86_400;
/// The Julian day number of 1970-01-01.
const UNIX_EPOCH_JULIAN_DAY: i64 = 2_440_588;
/// The longest GetUsage range.
const MAX_USAGE_DAYS: i64 = 90;

/// The UTC day (days since 1970-01-01) of a Unix time.
pub fn day_of(secs: i64) -> i64 {
    secs.div_euclid(SECS_PER_DAY)
}

fn date_of(day: i64) -> Option<time::Date> {
    i32::try_from(day + UNIX_EPOCH_JULIAN_DAY)
        .ok()
        .and_then(|j| time::Date::from_julian_day(j).ok())
}

/// The first day of the quota period (`DAY`, `WEEK` from Monday, `MONTH`) holding `day`.
pub fn period_start(period: &str, day: i64) -> i64 {
    match period {
        "WEEK" => day - (day + 3).rem_euclid(7),
        "MONTH" => match date_of(day) {
            Some(d) => day - i64::from(d.day()) + 1,
            None => day,
        },
        _ => day,
    }
}

/// The quota's limit for the period starting on `start`: the offset is taken off in the
/// plan's first period.
pub fn period_limit(quota: &QuotaSettings, plan_created: i64, start: i64) -> i64 {
    if period_start(&quota.period, day_of(plan_created)) == start {
        (quota.limit - quota.offset).max(0)
    } else {
        quota.limit
    }
}

/// `yyyy-MM-dd` as a day number.
pub fn parse_date(s: &str) -> ApiResult<i64> {
    let bad = || ApiError::bad(format!("Invalid date format: {s}. Expected yyyy-MM-dd"));
    let mut parts = s.trim().splitn(3, '-');
    let mut next = || -> ApiResult<i64> {
        parts
            .next()
            .and_then(|p| p.parse::<i64>().ok())
            .ok_or_else(bad)
    };
    let (y, m, d) = (next()?, next()?, next()?);
    let month = u8::try_from(m)
        .ok()
        .and_then(|m| time::Month::try_from(m).ok())
        .ok_or_else(bad)?;
    let date = i32::try_from(y)
        .ok()
        .zip(u8::try_from(d).ok())
        .and_then(|(y, d)| time::Date::from_calendar_date(y, month, d).ok())
        .ok_or_else(bad)?;
    Ok(i64::from(date.to_julian_day()) - UNIX_EPOCH_JULIAN_DAY)
}

/// A day number as `yyyy-MM-dd`.
pub fn format_date(day: i64) -> String {
    date_of(day)
        .map(|d| format!("{:04}-{:02}-{:02}", d.year(), u8::from(d.month()), d.day()))
        .unwrap_or_default()
}

/// GetUsage's answer: per key, one `[used, remaining]` per day of the range.
#[derive(Debug, Clone, PartialEq)]
pub struct Usage {
    pub usage_plan_id: String,
    pub start_date: String,
    pub end_date: String,
    pub items: BTreeMap<String, Vec<[i64; 2]>>,
    pub position: Option<String>,
}

/// What the data plane serves keys from: every key (value left out), plan and membership.
#[derive(Debug, Clone, Default)]
pub struct ServedKeys {
    pub keys: Vec<ApiKey>,
    pub plans: Vec<UsagePlan>,
    /// (plan id, key id).
    pub plan_keys: Vec<(String, String)>,
}

/// Per-day `[used, remaining]` for `from..=to` from a key's counters (`counts` by day, from
/// the start of `from`'s quota period on).
fn daily(plan: &UsagePlan, counts: &BTreeMap<i64, i64>, from: i64, to: i64) -> Vec<[i64; 2]> {
    (from..=to)
        .map(|day| {
            let used = counts.get(&day).copied().unwrap_or(0).max(0);
            let remaining = match &plan.quota {
                Some(q) => {
                    let start = period_start(&q.period, day);
                    let so_far: i64 = counts.range(start..=day).map(|(_, n)| *n).sum();
                    (period_limit(q, plan.created, start) - so_far).max(0)
                }
                None => 0,
            };
            [used, remaining]
        })
        .collect()
}

impl ApiService {
    /// GetUsage: the plan's keys (or one), each with its days from `start_date` to `end_date`.
    pub async fn get_usage(
        &self,
        plan_id: &str,
        key_id: Option<&str>,
        start_date: &str,
        end_date: &str,
        page: &RestPage,
    ) -> ApiResult<Usage> {
        let plan = self.load_usage_plan(plan_id).await?;
        let (from, to) = (parse_date(start_date)?, parse_date(end_date)?);
        if to < from {
            return Err(ApiError::bad(
                "The end date must not be before the start date",
            ));
        }
        if to - from >= MAX_USAGE_DAYS {
            return Err(ApiError::bad(format!(
                "The date range must not exceed {MAX_USAGE_DAYS} days"
            )));
        }
        let mut keys = self.store.usage_plan_keys(plan_id).await?;
        if let Some(k) = key_id {
            if !keys.iter().any(|x| x == k) {
                return Err(key_not_found());
            }
            keys = vec![k.to_string()];
        }
        let (keys, position) = crate::apis::rest::rest_page(&keys, page)?;
        let since = plan
            .quota
            .as_ref()
            .map_or(from, |q| period_start(&q.period, from));
        let mut by_key: BTreeMap<String, BTreeMap<i64, i64>> = BTreeMap::new();
        for c in self.store.usage(plan_id, key_id, since, to).await? {
            *by_key
                .entry(c.key_id)
                .or_default()
                .entry(c.day)
                .or_default() += c.used;
        }
        let empty = BTreeMap::new();
        let items = keys
            .into_iter()
            .map(|k| {
                let days = daily(&plan, by_key.get(&k).unwrap_or(&empty), from, to);
                (k, days)
            })
            .collect();
        Ok(Usage {
            usage_plan_id: plan_id.to_string(),
            start_date: format_date(from),
            end_date: format_date(to),
            items,
            position,
        })
    }

    /// UpdateUsage: `replace /remaining` sets what the key has left of the current period's
    /// quota (recorded as an adjustment of today's counter).
    pub async fn update_usage(
        &self,
        plan_id: &str,
        key_id: &str,
        ops: &[PatchOp],
    ) -> ApiResult<Usage> {
        let _guard = self.edit_lock.lock().await;
        let plan = self.load_usage_plan(plan_id).await?;
        if !self
            .store
            .usage_plan_keys(plan_id)
            .await?
            .iter()
            .any(|k| k == key_id)
        {
            return Err(key_not_found());
        }
        let quota = plan
            .quota
            .clone()
            .ok_or_else(|| ApiError::bad(format!("Usage Plan {plan_id} has no quota to update")))?;
        let today = day_of(self.clock.now());
        let start = period_start(&quota.period, today);
        for op in ops {
            if op.path != "/remaining" {
                return Err(crate::apis::rest::patch::invalid_path(
                    op.op,
                    &op.path,
                    "/remaining",
                ));
            }
            if op.op != PatchKind::Replace {
                return Err(crate::apis::rest::patch::unsupported_op(op.op, &op.path));
            }
            let remaining = parse_int(&op.path, need_value(op.op, &op.path, op.value.as_deref())?)?;
            if remaining < 0 {
                return Err(ApiError::bad(
                    "Invalid remaining value: must not be negative",
                ));
            }
            let used: i64 = self
                .store
                .usage(plan_id, Some(key_id), start, today)
                .await?
                .iter()
                .map(|c| c.used)
                .sum();
            let target = period_limit(&quota, plan.created, start) - remaining;
            if target != used {
                self.store
                    .add_usage(&[UsageCount {
                        plan_id: plan_id.to_string(),
                        key_id: key_id.to_string(),
                        day: today,
                        used: target - used,
                    }])
                    .await?;
            }
        }
        self.bump();
        drop(_guard);
        let date = format_date(today);
        self.get_usage(plan_id, Some(key_id), &date, &date, &RestPage::default())
            .await
    }

    /// Every key (without its value), plan and plan key, for the data plane's key table.
    pub async fn served_api_keys(&self) -> Result<ServedKeys> {
        let mut out = ServedKeys::default();
        let mut after = None;
        loop {
            let batch = self
                .store
                .list_api_keys(&Page {
                    limit: 500,
                    after: after.clone(),
                })
                .await?;
            let Some(last) = batch.last() else { break };
            after = Some(last.id.clone());
            let full = batch.len() == 500;
            out.keys.extend(batch.into_iter().map(|mut k| {
                k.value = String::new();
                k
            }));
            if !full {
                break;
            }
        }
        let mut after = None;
        loop {
            let batch = self
                .store
                .list_usage_plans(&Page {
                    limit: 500,
                    after: after.clone(),
                })
                .await?;
            let Some(last) = batch.last() else { break };
            after = Some(last.id.clone());
            let full = batch.len() == 500;
            out.plans.extend(batch);
            if !full {
                break;
            }
        }
        out.plan_keys = self.store.all_usage_plan_keys().await?;
        Ok(out)
    }

    /// Every usage counter from day `from` on (the data plane's starting point for quotas).
    pub async fn usage_counts_since(&self, from: i64) -> Result<Vec<UsageCount>> {
        Ok(self.store.usage_since(from).await?)
    }

    /// Adds the data plane's counts to the stored counters. Does not reload the gateway.
    pub async fn record_usage(&self, counts: &[UsageCount]) -> Result<()> {
        Ok(self.store.add_usage(counts).await?)
    }

    /// The current Unix time (the data plane's quota periods follow the service's clock).
    pub fn now(&self) -> i64 {
        self.clock.now()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_and_periods() {
        let d = parse_date("2026-11-27").unwrap();
        assert_eq!(format_date(d), "2026-11-27");
        assert_eq!(day_of(d * SECS_PER_DAY + 5), d);
        assert_eq!(parse_date("1970-01-01").unwrap(), 0);
        assert!(parse_date("2026-13-01").is_err());
        assert!(parse_date("yesterday").is_err());
        // 2026-11-27 is a Friday: its week starts on Monday the 23rd.
        assert_eq!(format_date(period_start("WEEK", d)), "2026-11-23");
        assert_eq!(format_date(period_start("MONTH", d)), "2026-11-01");
        assert_eq!(period_start("DAY", d), d);
        let monday = parse_date("2026-11-23").unwrap();
        assert_eq!(period_start("WEEK", monday), monday);
    }

    #[test]
    fn remaining_counts_down_within_a_period_and_resets() {
        let d = parse_date("2026-11-27").unwrap();
        let plan = UsagePlan {
            quota: Some(QuotaSettings {
                limit: 10,
                offset: 2,
                period: "WEEK".into(),
            }),
            // Created the week before: no offset this week.
            created: (d - 7) * SECS_PER_DAY,
            ..Default::default()
        };
        let counts = BTreeMap::from([(d - 1, 3), (d, 4), (d + 3, 1)]);
        assert_eq!(
            daily(&plan, &counts, d - 1, d + 3),
            vec![[3, 7], [4, 3], [0, 3], [0, 3], [1, 9]]
        );
        let mut first = plan.clone();
        first.created = d * SECS_PER_DAY;
        assert_eq!(daily(&first, &counts, d, d), vec![[4, 1]]);
    }
}
