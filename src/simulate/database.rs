//! A database of the run's own on a PostgreSQL server (`--postgres-url`): created empty
//! before the run, dropped after it, so one run's "told places" never shape the next.

use anyhow::Context;
use sea_orm::{ConnectionTrait, Database, DatabaseConnection};

/// A fresh database on a PostgreSQL server; drop it with [`ScratchDatabase::drop_it`].
pub struct ScratchDatabase {
    admin: DatabaseConnection,
    name: String,
    /// Its URL, for `DATABASE_URL`.
    pub url: String,
}

impl ScratchDatabase {
    /// Creates `excursobot_simulate_<stamp>` on the server `server_url` points at.
    pub async fn create(server_url: &str) -> anyhow::Result<Self> {
        let admin = Database::connect(server_url)
            .await
            .context("connecting to --postgres-url")?;
        let name = format!("excursobot_simulate_{}", super::under_test::stamp()).replace('-', "_");
        admin
            .execute_unprepared(&format!("CREATE DATABASE \"{name}\""))
            .await
            .context("creating the run's database")?;
        let mut url = url::Url::parse(server_url).context("--postgres-url is not a URL")?;
        url.set_path(&name);
        Ok(Self {
            admin,
            name,
            url: url.to_string(),
        })
    }

    /// Drops the database (the bot must be stopped).
    pub async fn drop_it(self) {
        let statement = format!("DROP DATABASE IF EXISTS \"{}\" WITH (FORCE)", self.name);
        if let Err(error) = self.admin.execute_unprepared(&statement).await {
            tracing::warn!(%error, database = self.name, "the run's database was not dropped");
        }
    }
}
