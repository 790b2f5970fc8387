//! A service struct under tokio: async cached methods shared by many tasks, single-flight on
//! concurrent misses, and invalidation after an update.
//!
//! Run it with `cargo run --example service_tokio`.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use memo::{CacheConfig, cached, invalidates};
use tokio::sync::RwLock;

#[derive(Clone, Debug)]
struct Account {
    id: u64,
    balance: i64,
}

#[derive(Debug)]
struct NotFound(u64);

impl std::fmt::Display for NotFound {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "no account {}", self.0)
    }
}

impl std::error::Error for NotFound {}

/// One per process, shared by every task through an `Arc`.
struct Accounts {
    rows: RwLock<HashMap<u64, i64>>,
    queries: AtomicUsize,
}

impl Accounts {
    /// Concurrent calls for one id run the query once; the other tasks wait for its value.
    #[cached(ttl = "30s", prefix = "account", cache_type = "accounts")]
    async fn account(&self, id: u64) -> Result<Account, NotFound> {
        self.queries.fetch_add(1, Ordering::Relaxed);
        // A slow query.
        tokio::time::sleep(Duration::from_millis(20)).await;
        let balance = *self.rows.read().await.get(&id).ok_or(NotFound(id))?;
        Ok(Account { id, balance })
    }

    #[invalidates("account:{id}")]
    async fn deposit(&self, id: u64, amount: i64) -> Result<(), NotFound> {
        let mut rows = self.rows.write().await;
        let balance = rows.get_mut(&id).ok_or(NotFound(id))?;
        *balance += amount;
        Ok(())
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    memo::configure("accounts", CacheConfig::builder().capacity(10_000).build()?)?;
    let accounts = Arc::new(Accounts {
        rows: RwLock::new(HashMap::from([(1, 100), (2, 250)])),
        queries: AtomicUsize::new(0),
    });

    // 50 tasks ask for account 1 at once: one query.
    let tasks: Vec<_> = (0..50)
        .map(|_| {
            let accounts = Arc::clone(&accounts);
            tokio::spawn(async move { accounts.account(1).await.map(|a| a.balance) })
        })
        .collect();
    for task in tasks {
        task.await??;
    }
    println!(
        "50 concurrent calls for account 1 -> {} query",
        accounts.queries.load(Ordering::Relaxed)
    );

    let a = accounts.account(1).await?;
    println!("account {} balance {}", a.id, a.balance);
    accounts.deposit(1, 50).await?;
    let a = accounts.account(1).await?;
    println!("after deposit: account {} balance {}", a.id, a.balance);
    match accounts.account(9).await {
        Ok(a) => println!("unexpected {a:?}"),
        Err(e) => println!("account(9) -> {e} (not cached)"),
    }

    let stats = memo::stats();
    let f = stats.function("account").expect("account ran");
    println!(
        "account: hits {}, misses {}, coalesced waits {}, queries {}",
        f.activity.hits,
        f.activity.misses,
        f.activity.coalesced_waits,
        accounts.queries.load(Ordering::Relaxed)
    );
    println!("{}", serde_json::to_string_pretty(f)?);
    Ok(())
}
