/*
 * End-to-end harness around the real sockjs-client: opens sockets with one
 * forced transport, runs the checks of one "cell" and returns what it saw.
 *
 * The same file runs in the browser (loaded by harness.html, exposed as
 * window.E2E) and under Node (required by ../node/client.js).  It only
 * observes and reports; the Python tests judge the observations, so every
 * expectation lives in one place (tests/e2e/*.py).
 *
 * Every wait has its own timeout and resolves (never rejects) with what was
 * seen so far, so a broken server gives a report rather than a hang.
 */
(function (root, factory) {
  'use strict';
  if (typeof module === 'object' && module.exports) {
    module.exports = factory;
  } else {
    root.E2E = factory(root.SockJS, root.document);
  }
}(typeof self !== 'undefined' ? self : this, function (SockJS, doc, tag) {
  'use strict';

  var lines = [];
  var t0 = Date.now();

  function preview(value) {
    var s = String(value);
    if (s.length > 80) {
      s = s.slice(0, 60) + '...(' + s.length + ' chars)';
    }
    return JSON.stringify(s);
  }

  function log(text) {
    var line = '+' + (Date.now() - t0) + 'ms ' + text;
    lines.push(line);
    // console.log is what Playwright (and Node's stderr) records for the report.
    if (typeof console !== 'undefined') {
      console.log('[e2e' + (tag ? ' ' + tag : '') + '] ' + line);
    }
    if (doc) {
      var el = doc.getElementById('log');
      if (el) {
        el.appendChild(doc.createTextNode(line + '\n'));
      }
    }
  }

  function setStatus(text) {
    if (doc) {
      var el = doc.getElementById('status');
      if (el) {
        el.textContent = text;
      }
    }
  }

  function delay(ms) {
    return new Promise(function (resolve) { setTimeout(resolve, ms); });
  }

  /*
   * A socket plus everything that happened to it.  `candidates` is the list of
   * transports the client enabled after reading /info and applying the
   * `transports` whitelist: sockjs-client 1.6.1 keeps it in the private
   * `_transports` array, read here by wrapping the instance's `_connect`
   * (called once with the full list).  An empty list means the client itself
   * ruled the forced transport out, which is "not applicable", not a failure.
   */
  function Probe(label, url, transport, sid, clientTimeoutMs) {
    var self = this;
    this.label = label;
    this.url = url;
    this.sid = sid;
    this.messages = [];
    this.heartbeats = 0;
    this.candidates = null;
    this.transport = null;
    this.openedAt = null;
    this.closeEvent = null;
    this.error = null;
    this._waiters = [];
    log(label + ': new SockJS(' + url + ', transports=[' + transport + '], sessionId=' + sid + ')');
    try {
      this.sock = new SockJS(url, null, {
        transports: [transport],
        sessionId: function () { return sid; },
        // Wall-clock independence: by default the client gives a transport
        // only rto*roundTrips (about 1 s here) to open before it gives up.
        timeout: clientTimeoutMs
      });
    } catch (e) {
      this.error = 'constructor threw: ' + e;
      log(label + ': ' + this.error);
      return;
    }
    var sock = this.sock;
    var connect = sock._connect;
    sock._connect = function () {
      if (self.candidates === null) {
        self.candidates = (this._transports || []).map(function (t) { return t.transportName; });
        log(label + ': client enabled transports ' + JSON.stringify(self.candidates));
      }
      return connect.apply(this, arguments);
    };
    sock.onopen = function () {
      self.openedAt = Date.now();
      // sock.transport is reset to null when the socket closes: keep it now.
      self.transport = sock.transport;
      log(label + ': open, transport=' + sock.transport);
      self._notify();
    };
    sock.onmessage = function (e) {
      self.messages.push(e.data);
      log(label + ': message #' + self.messages.length + ' ' + preview(e.data));
      self._notify();
    };
    sock.addEventListener('heartbeat', function () {
      self.heartbeats += 1;
      log(label + ': heartbeat #' + self.heartbeats);
    });
    sock.onclose = function (e) {
      self.closeEvent = {code: e.code, reason: e.reason, wasClean: e.wasClean};
      log(label + ': close ' + JSON.stringify(self.closeEvent));
      self._notify();
    };
  }

  Probe.prototype._notify = function () {
    var waiters = this._waiters;
    this._waiters = [];
    waiters.forEach(function (w) { w(); });
  };

  /* Resolve true when pred() holds, false after timeoutMs. */
  Probe.prototype.until = function (pred, timeoutMs) {
    var self = this;
    return new Promise(function (resolve) {
      var done = false;
      var timer = setTimeout(function () {
        done = true;
        resolve(false);
      }, timeoutMs);
      function check() {
        if (done) {
          return;
        }
        if (pred()) {
          done = true;
          clearTimeout(timer);
          resolve(true);
        } else {
          self._waiters.push(check);
        }
      }
      check();
    });
  };

  Probe.prototype.waitOpen = function (timeoutMs) {
    var self = this;
    if (this.error) {
      return Promise.resolve(this.report({timedOut: false}));
    }
    var started = Date.now();
    return this.until(function () {
      return self.openedAt !== null || self.closeEvent !== null;
    }, timeoutMs).then(function (ok) {
      if (!ok) {
        log(self.label + ': no open or close within ' + timeoutMs + ' ms');
      }
      return self.report({timedOut: !ok, elapsedMs: Date.now() - started});
    });
  };

  Probe.prototype.isOpen = function () {
    return this.sock && this.sock.readyState === 1;
  };

  Probe.prototype.sendAll = function (messages) {
    for (var i = 0; i < messages.length; i++) {
      this.sock.send(messages[i]);
    }
    log(this.label + ': sent ' + messages.length + ' message(s)');
  };

  Probe.prototype.waitMessages = function (count, timeoutMs) {
    var self = this;
    return this.until(function () {
      return self.messages.length >= count || self.closeEvent !== null;
    }, timeoutMs).then(function (ok) {
      var complete = self.messages.length >= count;
      if (!complete) {
        log(self.label + ': got ' + self.messages.length + ' of ' + count +
            ' message(s)' + (ok ? ' before close' : ' within ' + timeoutMs + ' ms'));
      }
      return complete;
    });
  };

  Probe.prototype.waitClose = function (timeoutMs) {
    var self = this;
    return this.until(function () { return self.closeEvent !== null; }, timeoutMs);
  };

  /* Close from the client side (if still open) and wait for onclose. */
  Probe.prototype.shutdown = function (timeoutMs) {
    if (this.sock && this.closeEvent === null) {
      try {
        this.sock.close();
      } catch (e) {
        log(this.label + ': close() threw ' + e);
      }
      return this.waitClose(timeoutMs);
    }
    return Promise.resolve(true);
  };

  Probe.prototype.report = function (extra) {
    var r = {
      label: this.label,
      url: this.url,
      sid: this.sid,
      error: this.error,
      candidates: this.candidates,
      opened: this.openedAt !== null,
      transport: this.transport,
      readyState: this.sock ? this.sock.readyState : null,
      heartbeats: this.heartbeats,
      messageCount: this.messages.length,
      close: this.closeEvent
    };
    if (extra) {
      Object.keys(extra).forEach(function (k) { r[k] = extra[k]; });
    }
    return r;
  };

  function sid(prefix, label) {
    return prefix + label + Math.random().toString(36).slice(2, 8);
  }

  /*
   * Run every check of one (transport, origin) cell.  cfg:
   *   base             SockJS server root, e.g. "http://127.0.0.1:8081"
   *   transport        the one transport to force
   *   messages         strings to echo, in order
   *   idleMs           how long the /heartbeat_echo session stays idle
   *   openTimeoutMs, echoTimeoutMs, closeTimeoutMs   per-step bounds
   *   clientTimeoutMs  sockjs-client's own transport-open timeout
   *   sidPrefix        session ids start with this (lets the test find the
   *                    HTTP exchange of each session)
   * Returns {enabled, candidates, steps: {...}, log: [...]}.
   */
  function runCell(cfg) {
    var steps = {};
    var probes = [];
    var prefix = cfg.sidPrefix || 'e2e';
    setStatus('running ' + cfg.transport);
    log('cell ' + cfg.transport + ' against ' + cfg.base + ' (page origin: ' +
        (doc ? doc.location.origin : 'node') + ')');

    function probe(label, path) {
      var p = new Probe(label, cfg.base + path, cfg.transport, sid(prefix, label), cfg.clientTimeoutMs);
      probes.push(p);
      return p;
    }

    // The idle session opens first so that its idle time overlaps the other steps.
    var hb = probe('heartbeat', '/heartbeat_echo');
    return hb.waitOpen(cfg.openTimeoutMs).then(function (r) {
      steps.heartbeat_open = r;
      if (hb.candidates !== null && hb.candidates.length === 0) {
        // The client ruled the transport out: nothing else can run.
        return {enabled: false};
      }
      var echo = probe('echo', '/echo');
      return echo.waitOpen(cfg.openTimeoutMs).then(function (r) {
        steps.echo_open = r;
        if (!echo.isOpen()) {
          return null;
        }
        echo.sendAll(cfg.messages);
        return echo.waitMessages(cfg.messages.length, cfg.echoTimeoutMs).then(function (complete) {
          steps.echo = echo.report({complete: complete, received: echo.messages.slice()});
          return echo.shutdown(cfg.closeTimeoutMs);
        }).then(function () {
          steps.echo_client_close = echo.report();
        });
      }).then(function () {
        var closing = probe('close', '/close');
        return closing.waitOpen(cfg.openTimeoutMs).then(function (r) {
          steps.close_open = r;
          return closing.waitClose(cfg.closeTimeoutMs);
        }).then(function (closed) {
          steps.server_close = closing.report({timedOut: !closed});
        });
      }).then(function () {
        var cookie = probe('cookie', '/cookie_needed_echo');
        return cookie.waitOpen(cfg.openTimeoutMs).then(function (r) {
          steps.cookie_open = r;
          if (!cookie.isOpen()) {
            return null;
          }
          var sent = ['cookie check 1', 'cookie check 2'];
          // Two messages, one at a time, so that several requests carry the cookie.
          cookie.sendAll([sent[0]]);
          return cookie.waitMessages(1, cfg.echoTimeoutMs).then(function () {
            cookie.sendAll([sent[1]]);
            return cookie.waitMessages(2, cfg.echoTimeoutMs);
          }).then(function (complete) {
            steps.cookie_echo = cookie.report({complete: complete, sent: sent,
                                               received: cookie.messages.slice()});
            return cookie.shutdown(cfg.closeTimeoutMs);
          });
        });
      }).then(function () {
        if (!hb.isOpen()) {
          steps.heartbeat = hb.report({skipped: 'heartbeat session is not open'});
          return null;
        }
        // Timers may fire a millisecond early against Date.now(); a small margin
        // keeps the measured idle time at or above idleMs.
        var wait = Math.max(0, hb.openedAt + cfg.idleMs - Date.now()) + 50;
        log('heartbeat: idle for another ' + wait + ' ms');
        return delay(wait).then(function () {
          var idle = Date.now() - hb.openedAt;
          var before = hb.report({idleMs: idle});
          if (!hb.isOpen()) {
            steps.heartbeat = before;
            return null;
          }
          var msg = 'still here after ' + cfg.idleMs + ' ms idle';
          hb.sendAll([msg]);
          return hb.waitMessages(1, cfg.echoTimeoutMs).then(function (complete) {
            steps.heartbeat = hb.report({idleMs: idle, heartbeatsBeforeSend: before.heartbeats,
                                         readyStateBeforeSend: before.readyState,
                                         complete: complete, sent: msg,
                                         received: hb.messages.slice()});
          });
        });
      }).then(function () {
        return {enabled: true};
      });
    }).then(function (summary) {
      // Leave nothing open behind: the next cell starts from a clean slate.
      return Promise.all(probes.map(function (p) { return p.shutdown(cfg.closeTimeoutMs); }))
        .then(function () {
          setStatus('done ' + cfg.transport + (summary.enabled ? '' : ' (not enabled by the client)'));
          return {
            enabled: summary.enabled,
            candidates: hb.candidates,
            steps: steps,
            log: lines.slice()
          };
        });
    });
  }

  setStatus('ready');
  return {runCell: runCell, log: log, lines: lines};
}));
