//! Integration tests: the real server on 127.0.0.1:0 over real HTTP, driven by the signing
//! client. One test binary (this one) so linking stays fast.

#![allow(clippy::unwrap_used)]

mod auth;
mod callbacks;
mod callbacks_outbox;
mod console;
mod contract;
mod demo;
mod dic;
mod gateway;
mod harness;
mod history;
mod limits;
mod lookup;
mod misuse;
mod msg;
mod presend;
mod receiver;
mod spec;
mod targeted;
mod team;
mod team_msg;
mod team_ws;
mod user;
mod ws;
