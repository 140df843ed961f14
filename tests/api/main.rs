//! Integration tests: one binary, a module per domain. Each test gets a real server on a
//! free port and a fresh database (SQLite, or PostgreSQL + Redis under `scripts/test`).

mod evclient;
mod helpers;
mod notify_support;
mod smtp;
mod webhook_support;
mod yclient;

mod activity;
mod approvals;
mod auth;
mod backbone;
mod cluster;
mod collab;
mod comments;
mod doc_store;
mod durability;
mod events;
mod hardening_auth;
mod hardening_cluster;
mod hardening_infra;
mod hardening_members;
mod hardening_sockets;
mod infra;
mod notify_api;
mod notify_cluster;
mod notify_email;
mod notify_flow;
mod notify_push;
mod openapi_contract;
mod permissions;
mod posts;
mod setup;
mod unit_of_work;
mod webhooks;
mod webhooks_cluster;
mod webhooks_delivery;
mod workspaces;
