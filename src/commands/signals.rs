//! Ctrl-C / SIGTERM: the first interrupts the engine, the second exits at once (130).

use super::common::*;

/// Ctrl-C / SIGTERM: the first one interrupts the engine (rollback or detach, as configured),
/// the second exits at once with 130.
pub(crate) fn install_signals(interrupt: Interrupt) {
    tokio::spawn(async move {
        let mut count = 0;
        loop {
            #[cfg(unix)]
            {
                let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                    Ok(s) => s,
                    Err(_) => return,
                };
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            #[cfg(not(unix))]
            if tokio::signal::ctrl_c().await.is_err() {
                return;
            }
            count += 1;
            if count == 1 {
                crate::render::errln!("interrupt received: stopping the release (again to exit at once)");
                interrupt.trigger();
            } else {
                crate::render::errln!("second interrupt: exiting now; the service may be mid-deployment (see `fgdeploy status`)");
                std::process::exit(130);
            }
        }
    });
}
