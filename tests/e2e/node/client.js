#!/usr/bin/env node
/*
 * Run the e2e cells with sockjs-client under Node (no browser).
 *
 *   node client.js '<json config>'
 *
 * Config: {clientDir, harness, base, transports: [...], messages, idleMs,
 *          openTimeoutMs, echoTimeoutMs, closeTimeoutMs, clientTimeoutMs,
 *          cookieSeed, overallTimeoutMs}
 *
 * Prints exactly one JSON line on stdout:
 *   {"node": "<version>", "client": "<version>",
 *    "cells": {"<transport>": <runCell result>, ...},
 *    "exchanges": [{method, url, status, requestCookie, setCookie, error}, ...]}
 * Logs go to stderr.  Exits 0 whenever it could report; judging is pytest's job.
 *
 * Node's sockjs-client keeps no cookies, so this script gives it a one-entry
 * jar (JSESSIONID for the SockJS host, primed with cfg.cookieSeed) by wrapping
 * http.request, which both the client's XHR driver and the `eventsource`
 * package call at request time.  The same wrapper records the HTTP exchange.
 */
'use strict';

var http = require('http');
var path = require('path');

var cfg = JSON.parse(process.argv[2]);
// stdout carries the one JSON result line; everything else goes to stderr.
console.log = console.error;
var exchanges = [];
var jar = cfg.cookieSeed || null;

var realRequest = http.request;
http.request = function (options, callback) {
  if (typeof options === 'string' || options instanceof URL) {
    return realRequest.apply(http, arguments);
  }
  var opts = Object.assign({}, options);
  opts.headers = Object.assign({}, options.headers || {});
  if (jar !== null) {
    opts.headers.Cookie = 'JSESSIONID=' + jar;
  }
  var rec = {
    method: opts.method || 'GET',
    url: 'http://' + (opts.hostname || opts.host) + ':' + opts.port + opts.path,
    status: null,
    requestCookie: opts.headers.Cookie || null,
    setCookie: null,
    error: null
  };
  exchanges.push(rec);
  var req = realRequest.call(http, opts, function (res) {
    rec.status = res.statusCode;
    var cookies = res.headers['set-cookie'];
    if (cookies) {
      rec.setCookie = cookies.join('\n');
      cookies.forEach(function (c) {
        var m = /^\s*JSESSIONID=([^;]*)/.exec(c);
        if (m) {
          jar = m[1];
        }
      });
    }
    if (callback) {
      callback(res);
    }
  });
  req.on('error', function (e) { rec.error = e.message; });
  return req;
};

var SockJS = require(path.join(cfg.clientDir, 'lib', 'entry.js'));
var makeHarness = require(cfg.harness);
var clientVersion = require(path.join(cfg.clientDir, 'package.json')).version;

var done = false;
var cells = {};

function finish() {
  if (done) {
    return;
  }
  done = true;
  process.stdout.write(JSON.stringify({
    node: process.version,
    client: clientVersion,
    cells: cells,
    exchanges: exchanges
  }) + '\n', function () {
    // Sockets left open by a broken run must not keep the process alive.
    process.exit(0);
  });
}

// Hard bound for the whole run: report whatever finished.
setTimeout(function () {
  console.error('[e2e] overall timeout of ' + cfg.overallTimeoutMs + ' ms reached');
  finish();
}, cfg.overallTimeoutMs).unref();

// Cells run concurrently: each has its own sessions (distinct ids), and
// Node, unlike a browser, has no per-host connection limit to respect.
Promise.all(cfg.transports.map(function (transport) {
  var cellCfg = Object.assign({}, cfg, {transport: transport, sidPrefix: 'node'});
  // One harness per cell: its log then holds that cell's lines only.
  return makeHarness(SockJS, null, transport).runCell(cellCfg).then(function (result) {
    cells[transport] = result;
  }, function (err) {
    cells[transport] = {enabled: true, crashed: String(err && err.stack || err), steps: {}};
  });
})).then(finish);
