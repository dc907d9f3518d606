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
    s.services.create_area(app.id, area.clone()).await?;
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
    s.services
        .update_area(app.id, areaid, name, parentid)
        .await?;
    ok(json!({}))
}

pub async fn delete_area(State(s): State<Arc<AppState>>, Nim { app, params }: Nim) -> Answer {
    let areaid = params.required("areaid")?;
    check_id("areaid", areaid)?;
    s.services.delete_area(app.id, areaid).await?;
    ok(json!({}))
}

pub async fn list_areas(State(s): State<Arc<AppState>>, Nim { app, .. }: Nim) -> Answer {
    let areas = s.services.areas(app.id).await?;
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
    s.services.create_enterptype(app.id, t.clone()).await?;
    ok(json!({"data": t}))
}

pub async fn update_enterptype(State(s): State<Arc<AppState>>, Nim { app, params }: Nim) -> Answer {
    let id = params.required("enterptypeid")?;
    check_id("enterptypeid", id)?;
    let name = params.get("name").unwrap_or("");
    check_name(name)?;
    s.services
        .update_enterptype(app.id, id, name.to_owned())
        .await?;
    ok(json!({}))
}

pub async fn delete_enterptype(State(s): State<Arc<AppState>>, Nim { app, params }: Nim) -> Answer {
    let id = params.required("enterptypeid")?;
    check_id("enterptypeid", id)?;
    s.services.delete_enterptype(app.id, id).await?;
    ok(json!({}))
}

pub async fn list_enterptypes(State(s): State<Arc<AppState>>, Nim { app, .. }: Nim) -> Answer {
    let types = s.services.enterptypes(app.id).await?;
    ok(json!({"data": {"enterptypes": types}}))
}
