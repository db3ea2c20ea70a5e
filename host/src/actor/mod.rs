//! Actors: signed WebAssembly modules, each served by a bounded pool of instances.
//!
//! An [`Actor`] is loaded from a file: its claims are verified (signature,
//! code hash, validity window, issuer policy), its code is compiled once per
//! distinct hash, its imports are resolved against the waPC host functions,
//! and one instance is started to prove it initialises. Calls then take a
//! warm instance from the [`pool`], or start another while fewer than the
//! limit run; an instance that trapped is thrown away, never reused.

pub mod engine;
mod pool;
pub mod wapc;

use crate::invocation::{is_actor_key, Invocation, InvocationError, Origin, Target};
use engine::ActorEngine;
use futures::future::BoxFuture;
use pool::ActorPool;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Weak};
use trellis_claims::{Claims, ClaimsError, Policy};
use trellis_manifest::normalize_binding;

/// Where an actor's host calls go: the host's bus, seen from the actor side.
pub trait HostCalls: Send + Sync {
    /// Runs `invocation` wherever its target is.
    fn call<'a>(
        &'a self,
        invocation: Invocation<'a>,
    ) -> BoxFuture<'a, Result<Vec<u8>, InvocationError>>;
}

/// Why an actor module was refused. Each names the file.
#[derive(Debug, thiserror::Error)]
pub enum ActorLoadError {
    /// The file could not be read.
    #[error("{path}: cannot read actor module: {reason}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The cause (part of the message, so not a separate `source`).
        reason: std::io::Error,
    },
    /// The module's claims are missing or invalid.
    #[error("{path}: refused: {reason}")]
    Claims {
        /// The file.
        path: PathBuf,
        /// What is wrong with the claims.
        reason: ClaimsError,
    },
    /// The module is not valid WebAssembly or needs imports the host lacks.
    #[error("{path}: {message}")]
    Module {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
}

/// Who an actor is, as its host calls see it.
pub struct ActorContext {
    /// The actor's public key (`M…`), its id everywhere.
    pub id: String,
    /// The verified claims.
    pub claims: Claims,
    host: Weak<dyn HostCalls>,
}

impl ActorContext {
    /// Makes a waPC host call of the actor: to another actor when
    /// `namespace` is an actor key, else to the provider of that capability
    /// and binding, which the actor's claims must list.
    pub async fn host_call(
        &self,
        binding: &str,
        namespace: &str,
        operation: &str,
        payload: Vec<u8>,
    ) -> Result<Vec<u8>, InvocationError> {
        let host = self.host.upgrade().ok_or(InvocationError::ShuttingDown)?;
        let target = if is_actor_key(namespace) {
            Target::Actor(namespace)
        } else if self.claims.allows(namespace) {
            Target::Provider {
                capability: namespace,
                binding: normalize_binding(binding),
            }
        } else {
            tracing::warn!(actor = %self.id, capability = namespace, operation, "call refused: capability not in the actor's claims");
            return Err(InvocationError::NotPermitted {
                actor: self.id.clone(),
                capability: namespace.to_string(),
            });
        };
        let origin = Origin::Actor(&self.id);
        host.call(Invocation::new(origin, target, operation, payload))
            .await
    }
}

/// A running actor.
pub struct Actor {
    path: PathBuf,
    context: Arc<ActorContext>,
    pool: ActorPool,
}

impl Actor {
    /// Loads, verifies, compiles and starts the actor in `path`.
    ///
    /// Reading, verifying and compiling run on a blocking thread, so a host
    /// loading many actors at once spreads them over the machine's cores.
    pub async fn load(
        engine: &Arc<ActorEngine>,
        path: &Path,
        policy: &Policy,
        max_instances: u32,
        host: Weak<dyn HostCalls>,
    ) -> Result<Actor, ActorLoadError> {
        let blocking = {
            let (engine, path, policy) = (Arc::clone(engine), path.to_path_buf(), policy.clone());
            tokio::task::spawn_blocking(move || verify_and_compile(&engine, &path, &policy))
        };
        let (claims, module) = blocking.await.map_err(|e| ActorLoadError::Module {
            path: path.to_path_buf(),
            message: format!("loading stopped: {e}"),
        })??;
        let context = Arc::new(ActorContext {
            id: claims.subject.clone(),
            claims,
            host,
        });
        let pool = ActorPool::new(engine, &module, Arc::clone(&context), max_instances)
            .await
            .map_err(|message| ActorLoadError::Module {
                path: path.to_path_buf(),
                message,
            })?;
        Ok(Actor {
            path: path.to_path_buf(),
            context,
            pool,
        })
    }

    /// The actor's public key.
    pub fn id(&self) -> &str {
        &self.context.id
    }

    /// The verified claims.
    pub fn claims(&self) -> &Claims {
        &self.context.claims
    }

    /// The file it was loaded from.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Calls `operation` with `payload` on one of the actor's instances.
    pub async fn call(
        &self,
        operation: &str,
        payload: Vec<u8>,
    ) -> Result<Vec<u8>, InvocationError> {
        self.pool
            .call(operation, payload)
            .await
            .map_err(|failure| failure.into_invocation_error(self.id(), operation))
    }
}

/// Reads the module in `path`, verifies its claims under `policy`, and
/// compiles it (or takes the code compiled before for its hash).
fn verify_and_compile(
    engine: &ActorEngine,
    path: &Path,
    policy: &Policy,
) -> Result<(Claims, wasmtime::Module), ActorLoadError> {
    let bytes = std::fs::read(path).map_err(|reason| ActorLoadError::Read {
        path: path.to_path_buf(),
        reason,
    })?;
    let claims =
        trellis_claims::verify_with(&bytes, policy).map_err(|reason| ActorLoadError::Claims {
            path: path.to_path_buf(),
            reason,
        })?;
    let module =
        engine
            .compile(&claims.metadata.hash, &bytes)
            .map_err(|e| ActorLoadError::Module {
                path: path.to_path_buf(),
                message: format!("not a valid WebAssembly module: {e}"),
            })?;
    Ok((claims, module))
}
