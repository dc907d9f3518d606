//! [`Routes`]: axum's `Router` plus the paths it was given. axum cannot list a router's
//! routes, and the API spec (`docs/openapi.yaml`) must describe every one the server serves:
//! building the production router through this type is what lets the spec test
//! (`tests/api/spec.rs`) compare the two, so a route added here without its spec entry fails
//! that test by name.

use axum::Router;
use axum::routing::MethodRouter;

/// A router under construction that remembers its paths.
pub struct Routes<S> {
    router: Router<S>,
    paths: Vec<String>,
}

impl<S: Clone + Send + Sync + 'static> Default for Routes<S> {
    fn default() -> Self {
        Routes {
            router: Router::new(),
            paths: Vec::new(),
        }
    }
}

impl<S: Clone + Send + Sync + 'static> Routes<S> {
    pub fn new() -> Self {
        Self::default()
    }

    /// `Router::route`, recorded.
    pub fn route(mut self, path: &str, method_router: MethodRouter<S>) -> Self {
        self.paths.push(path.to_owned());
        self.router = self.router.route(path, method_router);
        self
    }

    /// `Router::merge`, recorded.
    pub fn merge(mut self, other: Routes<S>) -> Self {
        self.paths.extend(other.paths);
        self.router = self.router.merge(other.router);
        self
    }

    /// The paths given so far, in the order they were.
    pub fn paths(&self) -> &[String] {
        &self.paths
    }

    pub fn into_router(self) -> Router<S> {
        self.router
    }
}
