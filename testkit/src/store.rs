//! Migrated, empty stores for the suites: one way to get each engine, so a change of how a store is
//! opened is made once.

use contrail_shared::config::DbConfig;
use contrail_shared::storage::{Engine, Store};
use tempfile::TempDir;

/// A migrated, empty store and the URL it was opened with; a SQLite file's directory lives as long
/// as the value.
pub struct TestStore {
    pub store: Store,
    pub url: String,
    _dir: Option<TempDir>,
}

impl TestStore {
    /// `"sqlite"` or `"postgres"`, for assertion messages.
    pub fn name(&self) -> &'static str {
        match self.store.engine() {
            Engine::Sqlite => "sqlite",
            Engine::Postgres => "postgres",
        }
    }
}

/// Opens and migrates the store at `url`; panics with the URL's engine when that fails (a harness
/// fault, not a finding).
pub async fn open(url: &str) -> Store {
    let store = Store::connect(&DbConfig::from_url(url)).await.expect("connecting the test store");
    store.migrate().await.expect("migrating the test store");
    store
}

/// A new SQLite file in a temporary directory that does not exist yet (the store creates it).
pub async fn sqlite() -> TestStore {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let url = format!("sqlite://{}", dir.path().join("state").join("contrail.db").display());
    TestStore { store: open(&url).await, url, _dir: Some(dir) }
}

/// A fresh database on the harness's PostgreSQL; `None` after [`crate::skip`]'s loud report.
pub async fn postgres() -> Option<TestStore> {
    let url = crate::postgres::fresh_database()?;
    Some(TestStore { store: open(&url).await, url, _dir: None })
}

/// One store per engine available here: SQLite always, PostgreSQL when the harness can start one.
pub async fn engines() -> Vec<TestStore> {
    let mut out = vec![sqlite().await];
    out.extend(postgres().await);
    out
}

/// Runs each named scenario, an `async fn(TestStore)` in the calling module, as two tests:
/// `<scenario>::on_sqlite` and `<scenario>::on_postgres` (the latter skipped loudly when the harness
/// has no PostgreSQL, failed under CI).
#[macro_export]
macro_rules! on_both_engines {
    ($($scenario:ident),* $(,)?) => {
        $(
            mod $scenario {
                #[tokio::test]
                async fn on_sqlite() {
                    super::$scenario($crate::store::sqlite().await).await;
                }

                #[tokio::test]
                async fn on_postgres() {
                    let Some(db) = $crate::store::postgres().await else { return };
                    super::$scenario(db).await;
                }
            }
        )*
    };
}
