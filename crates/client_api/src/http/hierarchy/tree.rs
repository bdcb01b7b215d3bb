//! `GET /v1/clients/{id}/tree`: the subtree as nested nodes, bounded by depth and node count (so one call
//! can never return a million rows); `truncated` says when the bound cut it.

use std::collections::HashMap;

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::app::AppState;
use crate::auth::Reader;
use crate::db::{Consistency, Query as _};
use crate::error::{ApiError, Problem};
use crate::http::extract::{PathId, QueryParams, ReadToken};
use crate::http::respond::JsonResponse;

/// Bounds of the tree.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct TreeParams {
    /// Levels below the client, 1-15 (default 3).
    pub max_depth: Option<i16>,
    /// Most nodes returned, 1-5000 (default 1000).
    pub max_nodes: Option<u32>,
}

/// One node of the tree.
#[derive(Debug, Serialize, ToSchema)]
pub struct TreeNode {
    /// Client id.
    pub id: Uuid,
    /// Display name.
    pub display_name: String,
    /// Status.
    pub status: String,
    /// Current risk category.
    pub risk_category: Option<String>,
    /// Depth in the group.
    pub depth: i16,
    /// Children (within the bounds).
    #[schema(no_recursion)]
    pub children: Vec<TreeNode>,
}

/// The tree and whether it was cut.
#[derive(Debug, Serialize, ToSchema)]
pub struct Tree {
    /// The requested client with its descendants.
    pub root: TreeNode,
    /// Nodes returned.
    pub nodes: usize,
    /// True when `max_depth` or `max_nodes` left descendants out.
    pub truncated: bool,
}

/// A bounded subtree.
#[utoipa::path(get, path = "/v1/clients/{id}/tree", tag = "hierarchy",
    params(("id" = Uuid, Path, description = "Client id"), TreeParams),
    responses((status = 200, description = "Nested subtree", body = Tree),
              (status = 404, description = "No such client", body = Problem, content_type = "application/problem+json")),
    security(("bearer" = ["clients:read"])))]
pub async fn get_tree(
    State(app): State<AppState>,
    _reader: Reader,
    token: ReadToken,
    PathId(id): PathId,
    QueryParams(p): QueryParams<TreeParams>,
) -> Result<Response, ApiError> {
    let max_depth = super::depth_limit(p.max_depth, 3)?;
    let max_nodes = i64::from(p.max_nodes.unwrap_or(1000));
    if !(1..=5000).contains(&max_nodes) {
        return Err(ApiError::invalid_parameter("max_nodes", "must be between 1 and 5000"));
    }
    let conn = app.db.read(token.or(Consistency::Any));
    let (path, depth) = super::locate(&conn, id).await?;
    // Breadth first (depth, then name) so a node cap keeps whole upper levels; one extra row detects a cut.
    let rows = conn
        .query(
            "SELECT c.id, c.parent_id, c.display_name, c.status, c.risk_category, c.depth FROM client_api.client AS c \
             WHERE c.path >= $1 AND c.path < $1 || '~' AND c.depth <= $2 AND c.deleted_at IS NULL \
             ORDER BY c.depth, c.display_name, c.id LIMIT $3::int8 + 1",
            &[&path, &(depth + max_depth + 1), &max_nodes],
        )
        .await?;
    drop(conn);
    let limit = usize::try_from(max_nodes).unwrap_or(usize::MAX);
    let mut truncated = rows.len() > limit;
    let mut nodes: Vec<(Option<Uuid>, TreeNode)> = Vec::new();
    for row in rows.iter().take(limit) {
        let node_depth: i16 = row.get(5);
        if node_depth > depth + max_depth {
            truncated = true;
            break;
        }
        nodes.push((
            row.get(1),
            TreeNode {
                id: row.get(0),
                display_name: row.get(2),
                status: row.get(3),
                risk_category: row.get(4),
                depth: node_depth,
                children: Vec::new(),
            },
        ));
    }
    let count = nodes.len();
    // Attach deepest first: every node's children are complete before it moves under its parent.
    let mut by_id: HashMap<Uuid, TreeNode> = HashMap::new();
    let mut parents: Vec<(Uuid, Option<Uuid>)> = Vec::with_capacity(nodes.len());
    for (parent, node) in nodes {
        parents.push((node.id, parent));
        by_id.insert(node.id, node);
    }
    for (node_id, parent) in parents.iter().rev() {
        if *node_id == id {
            continue;
        }
        if let (Some(node), Some(parent)) = (by_id.remove(node_id), parent)
            && let Some(parent_node) = by_id.get_mut(parent)
        {
            parent_node.children.push(node);
        }
    }
    let mut root = by_id.remove(&id).ok_or_else(|| ApiError::not_found("client", id))?;
    sort(&mut root);
    Ok(JsonResponse::ok(&Tree {
        root,
        nodes: count,
        truncated,
    })?
    .into_response())
}

fn sort(node: &mut TreeNode) {
    node.children
        .sort_by(|a, b| a.display_name.cmp(&b.display_name).then(a.id.cmp(&b.id)));
    for child in &mut node.children {
        sort(child);
    }
}
