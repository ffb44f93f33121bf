//! `ApiStore` (HTTP APIs) and `RestApiStore` (REST APIs) on SQLite: one document per API.

use async_trait::async_trait;

use super::doc_tables::DocTables;
use super::SqliteStore;
use crate::apis::{ApiStore, DeploymentSnapshot, HttpApi};
use crate::rest_apis::{RestApi, RestApiStore, RestDeploymentSnapshot};
use crate::{Page, StoreResult};

const HTTP: DocTables = DocTables {
    table: "http_apis",
    snapshots: "api_deployments",
};

const REST: DocTables = DocTables {
    table: "rest_apis",
    snapshots: "rest_api_deployments",
};

#[async_trait]
impl ApiStore for SqliteStore {
    async fn insert_api(&self, api: &HttpApi) -> StoreResult<()> {
        HTTP.insert(self, &api.id, api).await
    }

    async fn get_api(&self, api_id: &str) -> StoreResult<Option<HttpApi>> {
        HTTP.get(self, api_id)
    }

    async fn update_api(&self, api: &HttpApi) -> StoreResult<()> {
        HTTP.update(self, &api.id, api).await
    }

    async fn delete_api(&self, api_id: &str) -> StoreResult<()> {
        HTTP.delete(self, api_id).await
    }

    async fn list_apis(&self, page: &Page) -> StoreResult<Vec<HttpApi>> {
        HTTP.list(self, page)
    }

    async fn put_snapshot(&self, snapshot: &DeploymentSnapshot) -> StoreResult<()> {
        HTTP.put_snapshot(self, &snapshot.api_id, &snapshot.deployment_id, snapshot)
            .await
    }

    async fn get_snapshot(
        &self,
        api_id: &str,
        deployment_id: &str,
    ) -> StoreResult<Option<DeploymentSnapshot>> {
        HTTP.get_snapshot(self, api_id, deployment_id)
    }

    async fn delete_snapshot(&self, api_id: &str, deployment_id: &str) -> StoreResult<()> {
        HTTP.delete_snapshot(self, api_id, deployment_id).await
    }
}

#[async_trait]
impl RestApiStore for SqliteStore {
    async fn insert_rest_api(&self, api: &RestApi) -> StoreResult<()> {
        REST.insert(self, &api.id, api).await
    }

    async fn get_rest_api(&self, api_id: &str) -> StoreResult<Option<RestApi>> {
        REST.get(self, api_id)
    }

    async fn update_rest_api(&self, api: &RestApi) -> StoreResult<()> {
        REST.update(self, &api.id, api).await
    }

    async fn delete_rest_api(&self, api_id: &str) -> StoreResult<()> {
        REST.delete(self, api_id).await
    }

    async fn list_rest_apis(&self, page: &Page) -> StoreResult<Vec<RestApi>> {
        REST.list(self, page)
    }

    async fn put_rest_snapshot(&self, snapshot: &RestDeploymentSnapshot) -> StoreResult<()> {
        REST.put_snapshot(self, &snapshot.api_id, &snapshot.deployment_id, snapshot)
            .await
    }

    async fn get_rest_snapshot(
        &self,
        api_id: &str,
        deployment_id: &str,
    ) -> StoreResult<Option<RestDeploymentSnapshot>> {
        REST.get_snapshot(self, api_id, deployment_id)
    }

    async fn delete_rest_snapshot(&self, api_id: &str, deployment_id: &str) -> StoreResult<()> {
        REST.delete_snapshot(self, api_id, deployment_id).await
    }
}
