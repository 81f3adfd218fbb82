//! `coursebridge-ingest operators …`: the console's operator accounts. A
//! password is read from standard input (never from the command line, where
//! other users and shell history would see it) and stored only as an
//! Argon2id hash.

use std::io::BufRead;

use clap::Subcommand;
use ingest_server::config::Config;
use ingest_server::state::now_ms;

use crate::Failure;

#[derive(Subcommand)]
pub enum Action {
    /// Create an operator; the password is read from standard input (one line, at least 12 characters).
    Create {
        #[arg(long)]
        username: String,
    },
    /// List operators (names and status; never hashes).
    List,
    /// Disable an operator and end their sessions.
    Disable {
        #[arg(long)]
        username: String,
    },
}

fn valid_username(u: &str) -> bool {
    !u.is_empty()
        && u.len() <= 64
        && u.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '@'))
}

pub async fn run(action: Action, config: &Config) -> Result<(), Failure> {
    let store = crate::open(config).await?;
    let db = |e: store::StoreError| (1, e.to_string());
    match action {
        Action::Create { username } => {
            if !valid_username(&username) {
                return Err((
                    2,
                    "username: 1 to 64 letters, digits, '.', '_', '-' or '@'".into(),
                ));
            }
            eprintln!("password for {username} (one line on standard input):");
            let mut line = String::new();
            std::io::stdin()
                .lock()
                .read_line(&mut line)
                .map_err(|e| (2, format!("password: cannot read standard input ({e})")))?;
            let password = line.trim_end_matches(['\r', '\n']);
            let hash = tokio::task::spawn_blocking({
                let password = password.to_owned();
                move || ingest_server::console::hash_password(&password)
            })
            .await
            .map_err(|e| (1, e.to_string()))?
            .map_err(|e| (2, e.to_string()))?;
            let mut tx = store.begin().await.map_err(db)?;
            let created = tx
                .insert_operator(&store::Operator {
                    username: username.clone(),
                    password_hash: hash,
                    created_ms: now_ms(),
                    disabled_ms: None,
                })
                .await
                .map_err(db)?;
            if !created {
                return Err((1, format!("username: {username} is taken")));
            }
            tx.audit(&store::AuditEntry {
                at_ms: now_ms(),
                username: username.clone(),
                action: "operator-create".into(),
                detail: "coursebridge-ingest operators create".into(),
                remote: "cli".into(),
            })
            .await
            .map_err(db)?;
            tx.commit().await.map_err(db)?;
            println!("operator {username} created; sign in at /console/login");
            Ok(())
        }
        Action::List => {
            let ops = store
                .read()
                .await
                .map_err(db)?
                .operators()
                .await
                .map_err(db)?;
            for o in ops {
                println!(
                    "{}\t{}",
                    o.username,
                    if o.disabled_ms.is_some() {
                        "disabled"
                    } else {
                        "active"
                    }
                );
            }
            Ok(())
        }
        Action::Disable { username } => {
            let mut tx = store.begin().await.map_err(db)?;
            if !tx.disable_operator(&username, now_ms()).await.map_err(db)? {
                return Err((1, format!("username: no active operator {username}")));
            }
            tx.audit(&store::AuditEntry {
                at_ms: now_ms(),
                username: username.clone(),
                action: "operator-disable".into(),
                detail: "coursebridge-ingest operators disable".into(),
                remote: "cli".into(),
            })
            .await
            .map_err(db)?;
            tx.commit().await.map_err(db)?;
            Ok(())
        }
    }
}
