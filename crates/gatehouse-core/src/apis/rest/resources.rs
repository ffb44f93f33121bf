//! The resource tree: path parts are literals, `{param}` or a greedy `{param+}` that must stay
//! a leaf; siblings have distinct path parts and at most one variable among them, as AWS
//! requires. Moving or renaming a resource recomputes the paths of its subtree; deleting one
//! deletes its subtree.

use gatehouse_store::rest_apis::{Resource, RestApi};

use super::edit::{rest_page, RestPage};
use super::patch::{self, need_value, PatchKind, PatchOp, Patchable};
use crate::apis::error::{ApiError, ApiResult};
use crate::apis::ApiService;

pub(crate) fn resource_not_found() -> ApiError {
    ApiError::not_found("Invalid Resource identifier specified")
}

fn is_variable(part: &str) -> bool {
    part.starts_with('{') && part.ends_with('}')
}

fn is_greedy(part: &str) -> bool {
    part.starts_with('{') && part.ends_with("+}")
}

fn name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-')
}

/// `pets`, `{petId}` or `{proxy+}`.
pub fn check_path_part(part: &str) -> ApiResult<()> {
    let inner = part
        .strip_prefix('{')
        .map(|p| p.strip_suffix("+}").or_else(|| p.strip_suffix('}')));
    let ok = match inner {
        Some(Some(name)) => !name.is_empty() && name.chars().all(name_char),
        Some(None) => false,
        // As AWS's message says: literals are letters, digits, `.`, `_` and `-`.
        None => !part.is_empty() && part.chars().all(name_char),
    };
    if ok {
        Ok(())
    } else {
        Err(ApiError::bad(
            "Resource's path part only allow a-zA-Z0-9._- and curly braces at the beginning and the end and an optional plus sign before the closing brace.",
        ))
    }
}

fn find<'a>(api: &'a RestApi, id: &str) -> ApiResult<&'a Resource> {
    api.resources
        .iter()
        .find(|r| r.id == id)
        .ok_or_else(resource_not_found)
}

/// Whether `part` may be a child of `parent_id`; `moving` is the resource being renamed or
/// moved (not its own sibling).
pub fn check_child(
    api: &RestApi,
    parent_id: &str,
    part: &str,
    moving: Option<&str>,
) -> ApiResult<()> {
    check_path_part(part)?;
    let parent = find(api, parent_id)?;
    if is_greedy(&parent.path_part) {
        return Err(ApiError::bad(format!(
            "Cannot create a child of a resource with a greedy path variable: {}",
            parent.path_part
        )));
    }
    let siblings = api
        .resources
        .iter()
        .filter(|r| r.parent_id.as_deref() == Some(parent_id) && Some(r.id.as_str()) != moving);
    for s in siblings {
        if s.path_part == part {
            return Err(ApiError::conflict(format!(
                "Another resource with the same parent already has this name: {part}"
            )));
        }
        if is_variable(part) && is_variable(&s.path_part) {
            return Err(ApiError::bad(format!(
                "A sibling ({}) of this resource already has a variable path part -- only one is allowed",
                s.path_part
            )));
        }
    }
    Ok(())
}

/// The ids of `id` and everything under it.
pub fn subtree(api: &RestApi, id: &str) -> Vec<String> {
    let mut out = vec![id.to_string()];
    let mut i = 0;
    while i < out.len() {
        let cur = out[i].clone();
        out.extend(
            api.resources
                .iter()
                .filter(|r| r.parent_id.as_deref() == Some(cur.as_str()))
                .map(|r| r.id.clone()),
        );
        i += 1;
    }
    out
}

/// Recomputes every resource's full path from its parent chain.
pub fn recompute_paths(api: &mut RestApi) {
    let snapshot: Vec<(String, Option<String>, String)> = api
        .resources
        .iter()
        .map(|r| (r.id.clone(), r.parent_id.clone(), r.path_part.clone()))
        .collect();
    let path_of = |id: &str| -> String {
        let mut parts = Vec::new();
        let mut cur = Some(id.to_string());
        let mut guard = 0;
        while let Some(c) = cur {
            guard += 1;
            if guard > snapshot.len() + 1 {
                break;
            }
            match snapshot.iter().find(|(i, _, _)| *i == c) {
                Some((_, parent, part)) => {
                    if parent.is_some() {
                        parts.push(part.clone());
                    }
                    cur = parent.clone();
                }
                None => break,
            }
        }
        parts.reverse();
        format!("/{}", parts.join("/"))
    };
    let paths: Vec<String> = api.resources.iter().map(|r| path_of(&r.id)).collect();
    for (r, p) in api.resources.iter_mut().zip(paths) {
        r.path = p;
    }
}

/// What UpdateResource patches: `/pathPart` and `/parentId`.
struct Placement {
    path_part: String,
    parent_id: Option<String>,
}

impl Patchable for Placement {
    fn patch_paths(&self) -> &'static str {
        "/parentId, /pathPart"
    }
    fn read(&self, path: &[String], raw: &str) -> ApiResult<Option<String>> {
        match path {
            [p] if p == "pathPart" => Ok(Some(self.path_part.clone())),
            [p] if p == "parentId" => Ok(self.parent_id.clone()),
            _ => Err(patch::invalid_path(
                PatchKind::Test,
                raw,
                self.patch_paths(),
            )),
        }
    }
    fn write(
        &mut self,
        op: PatchKind,
        path: &[String],
        raw: &str,
        value: Option<&str>,
    ) -> ApiResult<()> {
        match (path, op) {
            ([p], PatchKind::Replace) if p == "pathPart" => {
                self.path_part = need_value(op, raw, value)?.to_string()
            }
            ([p], PatchKind::Replace) if p == "parentId" => {
                self.parent_id = Some(need_value(op, raw, value)?.to_string())
            }
            ([p], _) if p == "pathPart" || p == "parentId" => {
                return Err(patch::unsupported_op(op, raw))
            }
            _ => return Err(patch::invalid_path(op, raw, self.patch_paths())),
        }
        Ok(())
    }
}

/// Applies an UpdateResource patch to the tree.
pub fn move_resource(api: &mut RestApi, id: &str, ops: &[PatchOp]) -> ApiResult<()> {
    let current = find(api, id)?;
    let mut placement = Placement {
        path_part: current.path_part.clone(),
        parent_id: current.parent_id.clone(),
    };
    let was_root = current.parent_id.is_none();
    patch::apply(&mut placement, ops)?;
    if was_root {
        if placement.parent_id.is_some() || !placement.path_part.is_empty() {
            return Err(ApiError::bad(
                "The root resource cannot be moved or renamed",
            ));
        }
        return Ok(());
    }
    let parent = placement.parent_id.clone().unwrap_or_default();
    let below = subtree(api, id);
    if below.contains(&parent) {
        return Err(ApiError::bad("Resources cannot be cyclical."));
    }
    check_child(api, &parent, &placement.path_part, Some(id))?;
    if is_greedy(&placement.path_part) && below.len() > 1 {
        return Err(ApiError::bad(format!(
            "A resource with children cannot have a greedy path variable: {}",
            placement.path_part
        )));
    }
    if let Some(r) = api.resources.iter_mut().find(|r| r.id == id) {
        r.path_part = placement.path_part;
        r.parent_id = Some(parent);
    }
    recompute_paths(api);
    Ok(())
}

impl ApiService {
    pub async fn get_resources(
        &self,
        api_id: &str,
        page: &RestPage,
    ) -> ApiResult<(Vec<Resource>, Option<String>)> {
        let api = self.load_rest(api_id).await?;
        rest_page(&api.resources, page)
    }

    pub async fn get_resource(&self, api_id: &str, id: &str) -> ApiResult<Resource> {
        let api = self.load_rest(api_id).await?;
        find(&api, id).cloned()
    }

    pub async fn create_resource(
        &self,
        api_id: &str,
        parent_id: &str,
        path_part: &str,
    ) -> ApiResult<Resource> {
        self.edit_rest(api_id, |e| {
            check_child(&e.api, parent_id, path_part, None)?;
            let parent_path = find(&e.api, parent_id)?.path.clone();
            let r = Resource {
                id: e.new_child_id(),
                parent_id: Some(parent_id.to_string()),
                path_part: path_part.to_string(),
                path: format!("{}/{path_part}", parent_path.trim_end_matches('/')),
                methods: Default::default(),
            };
            e.api.resources.push(r.clone());
            Ok(r)
        })
        .await
    }

    pub async fn update_resource(
        &self,
        api_id: &str,
        id: &str,
        ops: &[PatchOp],
    ) -> ApiResult<Resource> {
        self.edit_rest(api_id, |e| {
            move_resource(&mut e.api, id, ops)?;
            find(&e.api, id).cloned()
        })
        .await
    }

    /// Deletes the resource and everything under it.
    pub async fn delete_resource(&self, api_id: &str, id: &str) -> ApiResult<()> {
        self.edit_rest(api_id, |e| {
            let r = find(&e.api, id)?;
            if r.parent_id.is_none() {
                return Err(ApiError::bad("Cannot delete the root resource of an API"));
            }
            let gone = subtree(&e.api, id);
            e.api.resources.retain(|r| !gone.contains(&r.id));
            Ok(())
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn res(id: &str, parent: Option<&str>, part: &str) -> Resource {
        Resource {
            id: id.into(),
            parent_id: parent.map(str::to_string),
            path_part: part.into(),
            path: String::new(),
            methods: Default::default(),
        }
    }

    fn tree() -> RestApi {
        let mut api = RestApi {
            resources: vec![
                res("root", None, ""),
                res("pets", Some("root"), "pets"),
                res("pet", Some("pets"), "{petId}"),
                res("proxy", Some("root"), "{proxy+}"),
            ],
            ..RestApi::default()
        };
        recompute_paths(&mut api);
        api
    }

    fn replace(path: &str, v: &str) -> PatchOp {
        PatchOp::new(PatchKind::Replace, path, Some(v))
    }

    #[test]
    fn path_parts() {
        for ok in ["pets", "v1.2", "a_b-c", "{id}", "{proxy+}"] {
            check_path_part(ok).unwrap();
        }
        for bad in [
            "", "a/b", "{}", "{a", "a}", "{a+b}", "{+}", "a b", "{a}b", "a~b", "*",
        ] {
            assert!(check_path_part(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn paths_follow_the_parent_chain() {
        let api = tree();
        let path = |id: &str| find(&api, id).unwrap().path.clone();
        assert_eq!(path("root"), "/");
        assert_eq!(path("pets"), "/pets");
        assert_eq!(path("pet"), "/pets/{petId}");
        assert_eq!(path("proxy"), "/{proxy+}");
    }

    #[test]
    fn sibling_rules() {
        let api = tree();
        let e = check_child(&api, "root", "pets", None).unwrap_err();
        assert!(matches!(e, ApiError::Conflict(_)));
        assert_eq!(
            e.to_string(),
            "Another resource with the same parent already has this name: pets"
        );
        let e = check_child(&api, "pets", "{other}", None).unwrap_err();
        assert!(matches!(e, ApiError::BadRequest(_)));
        assert_eq!(
            e.to_string(),
            "A sibling ({petId}) of this resource already has a variable path part -- only one is allowed"
        );
        // {proxy+} under root already is the root's variable child.
        assert!(check_child(&api, "root", "{x}", None).is_err());
        let e = check_child(&api, "proxy", "x", None).unwrap_err();
        assert_eq!(
            e.to_string(),
            "Cannot create a child of a resource with a greedy path variable: {proxy+}"
        );
        assert!(matches!(
            check_child(&api, "nope", "x", None).unwrap_err(),
            ApiError::NotFound(_)
        ));
        check_child(&api, "pets", "toys", None).unwrap();
        // Renaming a resource to its own name is no conflict.
        check_child(&api, "root", "pets", Some("pets")).unwrap();
    }

    #[test]
    fn moving_and_renaming() {
        let mut api = tree();
        move_resource(&mut api, "pets", &[replace("/pathPart", "animals")]).unwrap();
        assert_eq!(find(&api, "pet").unwrap().path, "/animals/{petId}");
        // Into its own subtree: cyclical.
        let e = move_resource(&mut api, "pets", &[replace("/parentId", "pet")]).unwrap_err();
        assert_eq!(e.to_string(), "Resources cannot be cyclical.");
        // A resource with children cannot become greedy.
        assert!(move_resource(&mut api, "pets", &[replace("/pathPart", "{all+}")]).is_err());
        // Under a greedy resource: refused.
        assert!(move_resource(&mut api, "pet", &[replace("/parentId", "proxy")]).is_err());
        // Move {petId} to the root next to {proxy+}: two variable siblings.
        assert!(move_resource(&mut api, "pet", &[replace("/parentId", "root")]).is_err());
        // Only replace is taken.
        let e = move_resource(
            &mut api,
            "pets",
            &[PatchOp::new(PatchKind::Add, "/pathPart", Some("x"))],
        )
        .unwrap_err();
        assert!(e.to_string().contains("Please choose supported operations"));
        let e = move_resource(&mut api, "pets", &[replace("/path", "x")]).unwrap_err();
        assert!(e
            .to_string()
            .contains("Must be one of: [/parentId, /pathPart]"));
        assert!(move_resource(&mut api, "root", &[replace("/pathPart", "x")]).is_err());
    }

    #[test]
    fn subtrees() {
        let api = tree();
        let mut s = subtree(&api, "pets");
        s.sort();
        assert_eq!(s, vec!["pet", "pets"]);
        assert_eq!(subtree(&api, "root").len(), 4);
    }

    mod prop {
        use proptest::prelude::*;

        use super::*;

        #[derive(Debug, Clone)]
        enum Op {
            Create(usize, &'static str),
            Rename(usize, &'static str),
            Move(usize, usize),
            Delete(usize),
        }

        const PARTS: [&str; 6] = ["a", "b", "{x}", "{y}", "{all+}", "c"];

        fn op() -> impl Strategy<Value = Op> {
            prop_oneof![
                (0..8usize, 0..PARTS.len()).prop_map(|(p, i)| Op::Create(p, PARTS[i])),
                (0..8usize, 0..PARTS.len()).prop_map(|(r, i)| Op::Rename(r, PARTS[i])),
                (0..8usize, 0..8usize).prop_map(|(r, p)| Op::Move(r, p)),
                (0..8usize).prop_map(Op::Delete),
            ]
        }

        fn nth(api: &RestApi, i: usize) -> String {
            api.resources[i % api.resources.len()].id.clone()
        }

        /// Whatever the operations, refused or not, the tree stays one AWS would accept.
        fn check_invariants(api: &RestApi) {
            let roots: Vec<_> = api
                .resources
                .iter()
                .filter(|r| r.parent_id.is_none())
                .collect();
            assert_eq!(roots.len(), 1);
            assert_eq!(roots[0].path, "/");
            for r in &api.resources {
                // The parent chain reaches the root without a cycle, and spells the path.
                let mut parts = Vec::new();
                let mut cur = r;
                let mut steps = 0;
                while let Some(p) = &cur.parent_id {
                    parts.push(cur.path_part.clone());
                    cur = api
                        .resources
                        .iter()
                        .find(|x| &x.id == p)
                        .expect("parent exists");
                    steps += 1;
                    assert!(steps <= api.resources.len(), "cycle at {}", r.id);
                }
                parts.reverse();
                assert_eq!(r.path, format!("/{}", parts.join("/")));
                let children: Vec<_> = api
                    .resources
                    .iter()
                    .filter(|c| c.parent_id.as_deref() == Some(r.id.as_str()))
                    .collect();
                if is_greedy(&r.path_part) {
                    assert!(children.is_empty(), "greedy {} has children", r.path);
                }
                let mut names: Vec<_> = children.iter().map(|c| c.path_part.clone()).collect();
                names.sort();
                names.dedup();
                assert_eq!(
                    names.len(),
                    children.len(),
                    "duplicate siblings under {}",
                    r.path
                );
                assert!(
                    children
                        .iter()
                        .filter(|c| is_variable(&c.path_part))
                        .count()
                        <= 1
                );
            }
        }

        proptest! {
            #[test]
            fn the_tree_stays_valid(ops in proptest::collection::vec(op(), 1..40)) {
                let mut api = RestApi {
                    resources: vec![res("root", None, "")],
                    ..RestApi::default()
                };
                recompute_paths(&mut api);
                let mut n = 0;
                for op in ops {
                    match op {
                        Op::Create(p, part) => {
                            let parent = nth(&api, p);
                            if check_child(&api, &parent, part, None).is_ok() {
                                n += 1;
                                api.resources.push(res(&format!("r{n}"), Some(&parent), part));
                                recompute_paths(&mut api);
                            }
                        }
                        Op::Rename(r, part) => {
                            let id = nth(&api, r);
                            let _ = move_resource(&mut api, &id, &[replace("/pathPart", part)]);
                        }
                        Op::Move(r, p) => {
                            let (id, parent) = (nth(&api, r), nth(&api, p));
                            let _ = move_resource(&mut api, &id, &[replace("/parentId", &parent)]);
                        }
                        Op::Delete(r) => {
                            let id = nth(&api, r);
                            if id != "root" {
                                let gone = subtree(&api, &id);
                                api.resources.retain(|x| !gone.contains(&x.id));
                            }
                        }
                    }
                    check_invariants(&api);
                }
            }
        }
    }
}
