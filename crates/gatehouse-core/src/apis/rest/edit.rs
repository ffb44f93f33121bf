//! How every REST API change is applied: the API is loaded, changed in memory under the
//! service's edit lock (the one HTTP API changes take), its new deployment snapshots written,
//! the API stored, and the gateway told to reload. Also the v1 paging (`position`, `limit`).

use gatehouse_store::rest_apis::{RestApi, RestDeploymentSnapshot};

use crate::apis::error::{ApiError, ApiResult};
use crate::apis::ApiService;
use crate::env::{random_lower_alnum, Random};

/// Length of resource, authorizer and deployment ids (AWS uses 6 to 10 characters).
const CHILD_ID_LEN: usize = 6;

/// The account named in v1 messages and ARNs (the one the gateway puts in request contexts).
pub const ACCOUNT_ID: &str = "000000000000";

/// One change to one REST API in progress.
pub struct RestEdit<'a> {
    pub api: RestApi,
    pub now: i64,
    rng: &'a dyn Random,
    pub(crate) snapshots: Vec<RestDeploymentSnapshot>,
    /// Deployments removed by this change, whose snapshots go once the API is stored.
    pub(crate) dropped: Vec<String>,
}

impl RestEdit<'_> {
    /// A fresh id unused by any resource, authorizer or deployment of the API.
    pub fn new_child_id(&self) -> String {
        fresh_child_id(&self.api, self.rng)
    }

    pub(crate) fn rng(&self) -> &dyn Random {
        self.rng
    }
}

/// A fresh id unused by any resource, authorizer or deployment of `api`.
pub(crate) fn fresh_child_id(api: &RestApi, rng: &dyn Random) -> String {
    loop {
        let id = random_lower_alnum(rng, CHILD_ID_LEN);
        let taken = api.resources.iter().any(|r| r.id == id)
            || api.authorizers.iter().any(|a| a.id == id)
            || api.deployments.iter().any(|d| d.id == id);
        if !taken {
            return id;
        }
    }
}

/// `limit` and `position` of a v1 list call.
#[derive(Debug, Clone, Default)]
pub struct RestPage {
    pub limit: Option<i64>,
    pub position: Option<String>,
}

impl RestPage {
    /// 25 unless told, at most 500, as AWS pages.
    pub fn limit(&self) -> ApiResult<usize> {
        match self.limit {
            None => Ok(25),
            Some(n) if n < 1 => Err(ApiError::bad(format!(
                "Invalid limit {n}: the limit must be between 1 and 500"
            ))),
            Some(n) => Ok(usize::try_from(n.min(500)).unwrap_or(500)),
        }
    }
}

/// One page of `items` from `position` (an offset we handed out).
pub fn rest_page<T: Clone>(items: &[T], page: &RestPage) -> ApiResult<(Vec<T>, Option<String>)> {
    let start = match &page.position {
        None => 0,
        Some(p) => p
            .parse::<usize>()
            .ok()
            .filter(|n| *n <= items.len())
            .ok_or_else(|| ApiError::bad(format!("Invalid position specified: {p}")))?,
    };
    let end = start.saturating_add(page.limit()?).min(items.len());
    let next = (end < items.len()).then(|| end.to_string());
    Ok((items[start..end].to_vec(), next))
}

impl ApiService {
    pub(crate) fn rest_api_not_found(api_id: &str) -> ApiError {
        ApiError::not_found(format!(
            "Invalid API identifier specified {ACCOUNT_ID}:{api_id}"
        ))
    }

    pub(crate) async fn load_rest(&self, api_id: &str) -> ApiResult<RestApi> {
        self.store
            .get_rest_api(api_id)
            .await?
            .ok_or_else(|| Self::rest_api_not_found(api_id))
    }

    /// Applies `change` to the REST API and stores the result; the gateway reloads.
    pub(crate) async fn edit_rest<T>(
        &self,
        api_id: &str,
        change: impl FnOnce(&mut RestEdit<'_>) -> ApiResult<T>,
    ) -> ApiResult<T> {
        let _guard = self.edit_lock.lock().await;
        let api = self.load_rest(api_id).await?;
        let mut edit = RestEdit {
            api,
            now: self.clock.now(),
            rng: self.rng.as_ref(),
            snapshots: Vec::new(),
            dropped: Vec::new(),
        };
        let out = change(&mut edit)?;
        for snapshot in &edit.snapshots {
            self.store.put_rest_snapshot(snapshot).await?;
        }
        self.store.update_rest_api(&edit.api).await?;
        for id in &edit.dropped {
            // Unreferenced now; a leftover row is harmless, so a failure is only logged.
            if let Err(e) = self.store.delete_rest_snapshot(api_id, id).await {
                tracing::warn!(error = %e, api_id, deployment_id = %id, "could not drop a deleted deployment's snapshot");
            }
        }
        self.bump();
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_by_offset() {
        let items: Vec<u32> = (0..30).collect();
        let (p1, next) = rest_page(&items, &RestPage::default()).unwrap();
        assert_eq!(p1.len(), 25);
        assert_eq!(next.as_deref(), Some("25"));
        let (p2, next) = rest_page(
            &items,
            &RestPage {
                limit: Some(10),
                position: next,
            },
        )
        .unwrap();
        assert_eq!(p2, vec![25, 26, 27, 28, 29]);
        assert_eq!(next, None);
        assert!(rest_page(
            &items,
            &RestPage {
                limit: Some(0),
                position: None
            }
        )
        .is_err());
        assert!(rest_page(
            &items,
            &RestPage {
                limit: None,
                position: Some("x".into())
            }
        )
        .is_err());
    }
}
