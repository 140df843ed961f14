//! Approvals: the workspace's approval mode, workflows, approval rounds bound to the exact
//! content they approve, decisions, deadlines, and review links for people without an account.

pub mod entities;
