//! `dic/*`: the area tree and the enterprise-type list that targeted sends select on.

use std::sync::Arc;

use axum::extract::State;
use qunfa_core::ApiError;
use qunfa_core::dict::{Area, Enterptype, check_id, check_name};
use serde_json::{Value, json};

use super::{Answer, Nim, ok};
use crate::state::AppState;

fn area_json(a: &Area) -> Value {
    match &a.parentid {
        Some(p) => json!({"areaid": a.areaid, "name": a.name, "parentid": p}),
        None => json!({"areaid": a.areaid, "name": a.name}),
    }
}

/// `parentid` as given: absent → `None`; empty → root (`Some(None)`); else a checked id.
fn parent_param(params: &super::Params) -> Result<Option<Option<String>>, ApiError> {
    match params.get("parentid") {
        None => Ok(None),
        Some("") => Ok(Some(None)),
        Some(p) => {
            check_id("parentid", p)?;
            Ok(Some(Some(p.to_owned())))
        }
    }
}

pub async fn create_area(State(s): State<Arc<AppState>>, Nim { app, params }: Nim) -> Answer {
    let areaid = params.required("areaid")?;
    check_id("areaid", areaid)?;
    let name = params.get("name").unwrap_or("");
    check_name(name)?;
    let parentid = parent_param(&params)?.flatten();
    let area = Area {
        areaid: areaid.to_owned(),
        name: name.to_owned(),
        parentid,
    };
    let ix = s.indexes.get(app.id).await?;
    let _gate = ix.gate().await;
    s.store.create_area(app.id, area.clone()).await?;
    ix.write().add_area(&area.areaid, area.parentid.as_deref());
    ok(json!({"data": area_json(&area)}))
}

pub async fn update_area(State(s): State<Arc<AppState>>, Nim { app, params }: Nim) -> Answer {
    let areaid = params.required("areaid")?;
    check_id("areaid", areaid)?;
    let name = match params.get("name") {
        Some(n) => {
            check_name(n)?;
            Some(n.to_owned())
        }
        None => None,
    };
    let parentid = parent_param(&params)?;
    if name.is_none() && parentid.is_none() {
        return Err(ApiError::param("nothing to update: give name or parentid").into());
    }
    let ix = s.indexes.get(app.id).await?;
    let _gate = ix.gate().await;
    s.store
        .update_area(app.id, areaid, name, parentid.clone())
        .await?;
    if let Some(parent) = parentid {
        ix.write().set_area_parent(areaid, parent.as_deref());
    }
    ok(json!({}))
}

pub async fn delete_area(State(s): State<Arc<AppState>>, Nim { app, params }: Nim) -> Answer {
    let areaid = params.required("areaid")?;
    check_id("areaid", areaid)?;
    let ix = s.indexes.get(app.id).await?;
    let _gate = ix.gate().await;
    s.store.delete_area(app.id, areaid).await?;
    ix.write().remove_area(areaid);
    ok(json!({}))
}

pub async fn list_areas(State(s): State<Arc<AppState>>, Nim { app, .. }: Nim) -> Answer {
    let areas = s.store.list_areas(app.id).await?;
    ok(json!({"data": {"areas": areas.iter().map(area_json).collect::<Vec<_>>()}}))
}

pub async fn create_enterptype(State(s): State<Arc<AppState>>, Nim { app, params }: Nim) -> Answer {
    let id = params.required("enterptypeid")?;
    check_id("enterptypeid", id)?;
    let name = params.get("name").unwrap_or("");
    check_name(name)?;
    let t = Enterptype {
        enterptypeid: id.to_owned(),
        name: name.to_owned(),
    };
    let ix = s.indexes.get(app.id).await?;
    let _gate = ix.gate().await;
    s.store.create_enterptype(app.id, t.clone()).await?;
    ix.write().add_type(&t.enterptypeid);
    ok(json!({"data": t}))
}

pub async fn update_enterptype(State(s): State<Arc<AppState>>, Nim { app, params }: Nim) -> Answer {
    let id = params.required("enterptypeid")?;
    check_id("enterptypeid", id)?;
    let name = params.get("name").unwrap_or("");
    check_name(name)?;
    s.store
        .update_enterptype(app.id, id, name.to_owned())
        .await?;
    ok(json!({}))
}

pub async fn delete_enterptype(State(s): State<Arc<AppState>>, Nim { app, params }: Nim) -> Answer {
    let id = params.required("enterptypeid")?;
    check_id("enterptypeid", id)?;
    let ix = s.indexes.get(app.id).await?;
    let _gate = ix.gate().await;
    s.store.delete_enterptype(app.id, id).await?;
    ix.write().remove_type(id);
    ok(json!({}))
}

pub async fn list_enterptypes(State(s): State<Arc<AppState>>, Nim { app, .. }: Nim) -> Answer {
    let types = s.store.list_enterptypes(app.id).await?;
    ok(json!({"data": {"enterptypes": types}}))
}
