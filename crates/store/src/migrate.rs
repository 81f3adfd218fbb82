//! Versioned migrations, one file per version and engine, applied in order in
//! one transaction each, recorded in `schema_migrations`. Concurrent starts are
//! safe: PostgreSQL serializes them with an advisory lock, SQLite with its
//! write lock.

use sqlx::Row;

use crate::{Backend, Ctx, Result, Store, StoreError};

struct Migration {
    version: i64,
    name: &'static str,
    sqlite: &'static str,
    postgres: &'static str,
}

const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        name: "init",
        sqlite: include_str!("../migrations/sqlite/0001_init.sql"),
        postgres: include_str!("../migrations/postgres/0001_init.sql"),
    },
    Migration {
        version: 2,
        name: "api_clients",
        sqlite: include_str!("../migrations/sqlite/0002_api_clients.sql"),
        postgres: include_str!("../migrations/postgres/0002_api_clients.sql"),
    },
    Migration {
        version: 3,
        name: "course_field_hashes",
        sqlite: include_str!("../migrations/sqlite/0003_course_field_hashes.sql"),
        postgres: include_str!("../migrations/postgres/0003_course_field_hashes.sql"),
    },
    Migration {
        version: 4,
        name: "course_source_hash",
        sqlite: include_str!("../migrations/sqlite/0004_course_source_hash.sql"),
        postgres: include_str!("../migrations/postgres/0004_course_source_hash.sql"),
    },
    Migration {
        version: 5,
        name: "scorm_flows",
        sqlite: include_str!("../migrations/sqlite/0005_scorm_flows.sql"),
        postgres: include_str!("../migrations/postgres/0005_scorm_flows.sql"),
    },
    Migration {
        version: 6,
        name: "statement_events",
        sqlite: include_str!("../migrations/sqlite/0006_statement_events.sql"),
        postgres: include_str!("../migrations/postgres/0006_statement_events.sql"),
    },
    Migration {
        version: 7,
        name: "stats_from_state",
        sqlite: include_str!("../migrations/sqlite/0007_stats_from_state.sql"),
        postgres: include_str!("../migrations/postgres/0007_stats_from_state.sql"),
    },
    Migration {
        version: 8,
        name: "actor_index",
        sqlite: include_str!("../migrations/sqlite/0008_actor_index.sql"),
        postgres: include_str!("../migrations/postgres/0008_actor_index.sql"),
    },
    Migration {
        version: 9,
        name: "partial_indexes",
        sqlite: include_str!("../migrations/sqlite/0009_partial_indexes.sql"),
        postgres: include_str!("../migrations/postgres/0009_partial_indexes.sql"),
    },
    Migration {
        version: 10,
        name: "broad_statements",
        sqlite: include_str!("../migrations/sqlite/0010_broad_statements.sql"),
        postgres: include_str!("../migrations/postgres/0010_broad_statements.sql"),
    },
    Migration {
        version: 11,
        name: "attachments",
        sqlite: include_str!("../migrations/sqlite/0011_attachments.sql"),
        postgres: include_str!("../migrations/postgres/0011_attachments.sql"),
    },
    Migration {
        version: 12,
        name: "voiding_targets",
        sqlite: include_str!("../migrations/sqlite/0012_voiding_targets.sql"),
        postgres: include_str!("../migrations/postgres/0012_voiding_targets.sql"),
    },
    Migration {
        version: 13,
        name: "actor_lists",
        sqlite: include_str!("../migrations/sqlite/0013_actor_lists.sql"),
        postgres: include_str!("../migrations/postgres/0013_actor_lists.sql"),
    },
    Migration {
        version: 14,
        name: "lms_delivery",
        sqlite: include_str!("../migrations/sqlite/0014_lms_delivery.sql"),
        postgres: include_str!("../migrations/postgres/0014_lms_delivery.sql"),
    },
    Migration {
        version: 15,
        name: "registration_names",
        sqlite: include_str!("../migrations/sqlite/0015_registration_names.sql"),
        postgres: include_str!("../migrations/postgres/0015_registration_names.sql"),
    },
    Migration {
        version: 16,
        name: "integration_setting_changes",
        sqlite: include_str!("../migrations/sqlite/0016_integration_setting_changes.sql"),
        postgres: include_str!("../migrations/postgres/0016_integration_setting_changes.sql"),
    },
    Migration {
        version: 17,
        name: "key_leases",
        sqlite: include_str!("../migrations/sqlite/0017_key_leases.sql"),
        postgres: include_str!("../migrations/postgres/0017_key_leases.sql"),
    },
    Migration {
        version: 18,
        name: "xapi_documents",
        sqlite: include_str!("../migrations/sqlite/0018_xapi_documents.sql"),
        postgres: include_str!("../migrations/postgres/0018_xapi_documents.sql"),
    },
    Migration {
        version: 19,
        name: "console",
        sqlite: include_str!("../migrations/sqlite/0019_console.sql"),
        postgres: include_str!("../migrations/postgres/0019_console.sql"),
    },
];

/// The newest schema version this program knows.
pub const SCHEMA_VERSION: i64 = 19;

const MIGRATION_LOCK: i64 = 0x636f_7572_7365; // "course"

impl Store {
    /// Applies every migration not applied yet; returns the versions applied.
    pub async fn migrate(&self) -> Result<Vec<i64>> {
        self.migrate_to(SCHEMA_VERSION).await
    }

    /// Applies the migrations not applied yet up to `target` (upgrade tests
    /// build an older schema with it, fill it, then [`Store::migrate`]).
    pub async fn migrate_to(&self, target: i64) -> Result<Vec<i64>> {
        let mut tx = self.begin().await?;
        if self.backend() == Backend::Postgres {
            sqlx::query("SELECT pg_advisory_xact_lock($1)")
                .bind(MIGRATION_LOCK)
                .execute(tx.tx.any()?)
                .await
                .ctx("locking migrations")?;
        }
        tx.exec(
            "CREATE TABLE IF NOT EXISTS schema_migrations (version BIGINT PRIMARY KEY, name TEXT NOT NULL, applied_ms BIGINT NOT NULL)",
            "creating schema_migrations",
        )
        .await?;
        let q = tx.sql("SELECT COALESCE(MAX(version), 0) AS v FROM schema_migrations");
        let current: i64 = sqlx::query(&q)
            .fetch_one(tx.tx.any()?)
            .await
            .ctx("reading the schema version")?
            .try_get("v")
            .ctx("reading the schema version")?;
        if current > SCHEMA_VERSION {
            return Err(StoreError::SchemaTooNew {
                found: current,
                known: SCHEMA_VERSION,
            });
        }
        let mut applied = Vec::new();
        for m in MIGRATIONS
            .iter()
            .filter(|m| m.version > current && m.version <= target)
        {
            let script = match self.backend() {
                Backend::Sqlite => m.sqlite,
                Backend::Postgres => m.postgres,
            };
            for statement in split_statements(script) {
                sqlx::query(statement)
                    .execute(tx.tx.any()?)
                    .await
                    .map_err(|source| StoreError::Migration {
                        version: m.version,
                        name: m.name,
                        source,
                    })?;
            }
            let q = tx.sql(
                "INSERT INTO schema_migrations (version, name, applied_ms) VALUES ($1, $2, $3)",
            );
            sqlx::query(&q)
                .bind(m.version)
                .bind(m.name)
                .bind(now_ms())
                .execute(tx.tx.any()?)
                .await
                .ctx("recording a migration")?;
            applied.push(m.version);
        }
        tx.commit().await?;
        Ok(applied)
    }

    /// The schema version in the database (0 when none).
    pub async fn schema_version(&self) -> Result<i64> {
        let mut tx = self.read().await?;
        let q = tx.sql("SELECT COALESCE(MAX(version), 0) AS v FROM schema_migrations");
        let v = sqlx::query(&q).fetch_one(tx.tx.any()?).await;
        match v {
            Ok(row) => row.try_get("v").ctx("reading the schema version"),
            Err(_) => Ok(0),
        }
    }
}

/// Splits a migration script into statements at `;` line ends (the scripts
/// hold no procedural code), skipping comments and blank statements.
fn split_statements(script: &str) -> impl Iterator<Item = &str> {
    script.split(";\n").map(str::trim).filter(|s| {
        s.lines().any(|l| {
            let l = l.trim();
            !l.is_empty() && !l.starts_with("--")
        })
    })
}

/// Wall-clock time for bookkeeping columns (migrations only; everything else
/// takes its time from the caller).
fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}
