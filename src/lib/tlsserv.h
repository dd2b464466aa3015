/* tlsserv: the application's side of tern-tlsd (tlsctl.h), shared by tern-smtpd
 * (STARTTLS) and tern-pop3d (STLS). */
#ifndef TERN_TLSSERV_H
#define TERN_TLSSERV_H
#include "tlsctl.h"

/* Reads and unsets TERN_TLS and TERN_TLSCTL.  Returns 1 when the session is already
 * encrypted (implicit TLS: *ti describes it), else 0 with *ctl the control socket (made
 * close-on-exec: no program started later inherits it) or -1 when there is none.  A
 * malformed variable ends the program (exit 111). */
int tlsserv_setup(int *ctl, struct tls_info *ti);
/* Starts TLS: writes the request to *ctl, reads tern-tlsd's one-line answer byte by byte
 * (what follows it is the session) waiting at most wait seconds, and after "ok" makes the
 * control socket fds 0 and 1 and sets *ctl to -1.  The caller has flushed its "go ahead"
 * reply and must then drop everything it had buffered from the client (CVE-2011-0411).
 * 0 with *ti, or -1 with *why (tern-tlsd's reason, or what went wrong). */
int tlsserv_start(int *ctl, unsigned wait, struct tls_info *ti, const char **why);

#endif
