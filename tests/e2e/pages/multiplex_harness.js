/*
 * End-to-end harness for the websocket-multiplex browser client against
 * examples/multiplex/server.py (driven by tests/e2e/test_multiplex_browser.py).
 *
 * window.MUX.run(cfg) loads sockjs-client and multiplex_client.js from the
 * example server itself (another origin than this page), opens one SockJS
 * connection with one forced transport, subscribes to the channels ann, bob
 * and carl through `new WebSocketMultiplex(sock)`, runs the steps below and
 * returns everything it saw.  It only observes; the Python test judges.
 *
 * Every wait has a timeout and resolves (never rejects) with whether its
 * condition held, so a broken server gives a report rather than a hang.
 */
(function (root) {
  'use strict';

  var doc = root.document;
  var t0 = Date.now();
  var lines = [];

  function log(text) {
    var line = '+' + (Date.now() - t0) + 'ms ' + text;
    lines.push(line);
    // Playwright records the console for the failure report.
    console.log('[mux] ' + line);
    var el = doc.getElementById('log');
    if (el) {
      el.appendChild(doc.createTextNode(line + '\n'));
    }
  }

  function setStatus(text) {
    var el = doc.getElementById('status');
    if (el) {
      el.textContent = text;
    }
  }

  /* Resolve null once `src` has run, or an error text (load error, timeout). */
  function loadScript(src, timeoutMs) {
    return new Promise(function (resolve) {
      var script = doc.createElement('script');
      var timer = setTimeout(function () {
        resolve('not loaded within ' + timeoutMs + ' ms: ' + src);
      }, timeoutMs);
      script.onload = function () {
        clearTimeout(timer);
        resolve(null);
      };
      script.onerror = function () {
        clearTimeout(timer);
        resolve('failed to load ' + src);
      };
      script.src = src;
      doc.head.appendChild(script);
    });
  }

  // Every event re-checks every pending wait.
  var waiters = [];

  function notify() {
    var pending = waiters;
    waiters = [];
    pending.forEach(function (w) { w(); });
  }

  /* Resolve true as soon as pred() holds, false after timeoutMs. */
  function until(pred, timeoutMs) {
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
          waiters.push(check);
        }
      }
      check();
    });
  }

  /* A channel of `multiplexer` plus the record of what happened to it. */
  function watchChannel(multiplexer, name) {
    var rec = {opened: false, messages: [], closes: 0, messagesAtClose: null};
    var channel = multiplexer.channel(name);
    channel.onopen = function () {
      rec.opened = true;
      log(name + ': open (sub sent)');
      notify();
    };
    channel.onmessage = function (e) {
      rec.messages.push(e.data);
      log(name + ': message ' + JSON.stringify(e.data));
      notify();
    };
    channel.onclose = function () {
      rec.closes += 1;
      if (rec.messagesAtClose === null) {
        rec.messagesAtClose = rec.messages.length;
      }
      log(name + ': close');
      notify();
    };
    return {channel: channel, rec: rec};
  }

  async function run(cfg) {
    var steps = {};
    var frames = [];  // every SockJS message of the session, raw
    var session = {opened: false, transport: null, close: null};
    var result = {log: lines, steps: steps, frames: frames, session: session, channels: {}};
    setStatus('running ' + cfg.transport);

    var errors = [];
    var sockjsError = await loadScript(cfg.base + '/static/sockjs.min.js', cfg.stepTimeoutMs);
    if (sockjsError) {
      errors.push(sockjsError);
    } else {
      var muxError = await loadScript(cfg.base + '/static/multiplex_client.js', cfg.stepTimeoutMs);
      if (muxError) {
        errors.push(muxError);
      }
    }
    steps.load = {
      errors: errors,
      sockjs: typeof root.SockJS === 'function' ? root.SockJS.version : null,
      multiplex: typeof root.WebSocketMultiplex === 'function'
    };
    log('libraries: ' + JSON.stringify(steps.load));
    if (errors.length || !steps.load.sockjs || !steps.load.multiplex) {
      return result;
    }

    var url = cfg.base + '/multiplex';
    log('new SockJS(' + url + ', transports=[' + cfg.transport + '])');
    var sock = new root.SockJS(url, null, {
      transports: [cfg.transport],
      // Wall-clock independence: by default the client gives a transport only
      // about a second to open before it gives up.
      timeout: cfg.clientTimeoutMs
    });
    sock.addEventListener('open', function () {
      session.opened = true;
      // sock.transport is reset to null when the socket closes: keep it now.
      session.transport = sock.transport;
      log('session open, transport=' + sock.transport);
      notify();
    });
    // Registered before the multiplexer's own listener: a frame is recorded
    // before any channel handler sees it.
    sock.addEventListener('message', function (e) {
      frames.push(e.data);
      log('frame ' + JSON.stringify(e.data));
      notify();
    });
    sock.addEventListener('close', function (e) {
      session.close = {code: e.code, reason: e.reason, wasClean: e.wasClean};
      log('session close ' + JSON.stringify(session.close));
      notify();
    });

    // Channels are created before the session opens: the client sends their
    // `sub` frames once it does.
    var multiplexer = new root.WebSocketMultiplex(sock);
    var ann = watchChannel(multiplexer, 'ann');
    var bob = watchChannel(multiplexer, 'bob');
    var carl = watchChannel(multiplexer, 'carl');
    result.channels = {ann: ann.rec, bob: bob.rec, carl: carl.rec};
    function ended() { return session.close !== null; }

    var ok = await until(function () { return session.opened || ended(); }, cfg.openTimeoutMs);
    steps.open = {opened: session.opened, transport: session.transport,
      close: session.close, timedOut: !ok};
    if (!session.opened) {
      log('session did not open');
      return result;
    }

    // 1. The three greetings; carl then closes his channel.
    steps.greetings = {complete: await until(function () {
      return (ann.rec.messages.length >= 1 && bob.rec.messages.length >= 1 &&
              carl.rec.closes >= 1) || ended();
    }, cfg.stepTimeoutMs)};

    // 2. A message with a comma in its payload on ann, then one on bob.
    ann.channel.send(cfg.annText);
    steps.annReply = {complete: await until(function () {
      return ann.rec.messages.length >= 2 || ended();
    }, cfg.stepTimeoutMs)};
    bob.channel.send(cfg.bobText);
    steps.bobReply = {complete: await until(function () {
      return bob.rec.messages.length >= 2 || ended();
    }, cfg.stepTimeoutMs)};

    // 3. The client closes ann (`uns,ann`); the session and bob stay.
    steps.annClose = {framesBefore: frames.length};
    ann.channel.close();
    steps.annClose.complete = await until(function () {
      return ann.rec.closes >= 1 || ended();
    }, cfg.stepTimeoutMs);

    // 4. A send on the closed ann channel still goes out as `msg,ann,...`:
    // the server must ignore it.  Bob's answer to the next message comes
    // after the server has handled it (one session, in order), so any reply
    // to ann would be among the frames recorded by then.
    ann.channel.send(cfg.afterCloseText);
    bob.channel.send(cfg.bobAgainText);
    steps.afterClose = {complete: await until(function () {
      return bob.rec.messages.length >= 3 || ended();
    }, cfg.stepTimeoutMs)};
    steps.afterClose.readyState = sock.readyState;

    // 5. Closing the SockJS connection itself.
    sock.close();
    steps.end = {complete: await until(ended, cfg.closeTimeoutMs), close: session.close};
    setStatus('done ' + cfg.transport);
    return result;
  }

  root.MUX = {run: run};
}(self));
