//! Groups and memberships.

use gatehouse_store::{Group, Page, User};

use crate::error::{Error, Result};
use crate::Directory;

#[derive(Debug, Clone, Default)]
pub struct GroupSettings {
    pub description: Option<String>,
    pub role_arn: Option<String>,
    pub precedence: Option<i64>,
}

fn group_not_found(name: &str) -> Error {
    Error::ResourceNotFound(format!("Group not found: {name}"))
}

fn check_precedence(p: Option<i64>) -> Result<()> {
    if p.is_some_and(|p| p < 0) {
        return Err(Error::invalid(
            "1 validation error detected: Value at 'precedence' failed to satisfy constraint: Member must have value greater than or equal to 0",
        ));
    }
    Ok(())
}

impl Directory {
    pub async fn create_group(&self, pool_id: &str, name: &str, s: GroupSettings) -> Result<Group> {
        self.pool(pool_id).await?;
        check_precedence(s.precedence)?;
        let now = self.now();
        let group = Group {
            pool_id: pool_id.to_string(),
            name: name.to_string(),
            description: s.description,
            role_arn: s.role_arn,
            precedence: s.precedence,
            created: now,
            modified: now,
        };
        match self.store.insert_group(&group).await {
            Err(gatehouse_store::StoreError::Conflict(_)) => Err(Error::GroupExists(
                "A group with the name already exists.".into(),
            )),
            other => {
                other?;
                Ok(group)
            }
        }
    }

    pub async fn get_group(&self, pool_id: &str, name: &str) -> Result<Group> {
        self.pool(pool_id).await?;
        self.store
            .get_group(pool_id, name)
            .await?
            .ok_or_else(|| group_not_found(name))
    }

    /// As on AWS, only the fields given change.
    pub async fn update_group(&self, pool_id: &str, name: &str, s: GroupSettings) -> Result<Group> {
        let mut group = self.get_group(pool_id, name).await?;
        check_precedence(s.precedence)?;
        if s.description.is_some() {
            group.description = s.description;
        }
        if s.role_arn.is_some() {
            group.role_arn = s.role_arn;
        }
        if s.precedence.is_some() {
            group.precedence = s.precedence;
        }
        group.modified = self.now();
        self.store.update_group(&group).await?;
        Ok(group)
    }

    pub async fn delete_group(&self, pool_id: &str, name: &str) -> Result<()> {
        self.get_group(pool_id, name).await?;
        self.store.delete_group(pool_id, name).await?;
        Ok(())
    }

    pub async fn list_groups(
        &self,
        pool_id: &str,
        limit: usize,
        token: Option<String>,
    ) -> Result<(Vec<Group>, Option<String>)> {
        self.pool(pool_id).await?;
        let page = Page {
            limit: limit + 1,
            after: token,
        };
        let mut groups = self.store.list_groups(pool_id, &page).await?;
        let more = groups.len() > limit;
        groups.truncate(limit);
        let next = more
            .then(|| groups.last().map(|g| g.name.clone()))
            .flatten();
        Ok((groups, next))
    }

    pub async fn add_user_to_group(
        &self,
        pool_id: &str,
        username: &str,
        group: &str,
    ) -> Result<()> {
        let (_, user) = self.admin_user(pool_id, username).await?;
        self.get_group(pool_id, group).await?;
        self.store.add_member(pool_id, group, &user.sub).await?;
        Ok(())
    }

    pub async fn remove_user_from_group(
        &self,
        pool_id: &str,
        username: &str,
        group: &str,
    ) -> Result<()> {
        let (_, user) = self.admin_user(pool_id, username).await?;
        self.get_group(pool_id, group).await?;
        self.store.remove_member(pool_id, group, &user.sub).await?;
        Ok(())
    }

    /// Groups of a user, by precedence. Paged in memory: a user is in few groups.
    pub async fn groups_for_user(
        &self,
        pool_id: &str,
        username: &str,
        limit: usize,
        token: Option<String>,
    ) -> Result<(Vec<Group>, Option<String>)> {
        let (_, user) = self.admin_user(pool_id, username).await?;
        let all = self.store.groups_for_user(pool_id, &user.sub).await?;
        let start = match token {
            None => 0,
            Some(t) => t
                .parse::<usize>()
                .map_err(|_| Error::invalid("Invalid nextToken."))?,
        };
        let page: Vec<Group> = all.iter().skip(start).take(limit).cloned().collect();
        let next = (start + page.len() < all.len()).then(|| (start + page.len()).to_string());
        Ok((page, next))
    }

    pub async fn users_in_group(
        &self,
        pool_id: &str,
        group: &str,
        limit: usize,
        token: Option<String>,
    ) -> Result<(Vec<User>, Option<String>)> {
        self.get_group(pool_id, group).await?;
        let page = Page {
            limit: limit + 1,
            after: token,
        };
        let mut users = self.store.users_in_group(pool_id, group, &page).await?;
        let more = users.len() > limit;
        users.truncate(limit);
        let next = more.then(|| users.last().map(|(k, _)| k.clone())).flatten();
        Ok((users.into_iter().map(|(_, u)| u).collect(), next))
    }
}
