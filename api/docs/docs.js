// Renders /openapi.json as a page: one section per operation with its
// scope, parameters, body and responses. No external assets.
(function () {
  "use strict";
  function el(tag, attrs, children) {
    var e = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) { e.setAttribute(k, attrs[k]); });
    (children || []).forEach(function (c) { e.append(c); });
    return e;
  }
  function resolve(doc, obj) {
    var seen = 0;
    while (obj && obj.$ref && seen++ < 10) {
      obj = obj.$ref.replace(/^#\//, "").split("/").reduce(function (o, k) { return o && o[k]; }, doc);
    }
    return obj || {};
  }
  function schemaBlock(doc, schema) {
    return el("details", {}, [el("summary", {}, [schema.$ref ? schema.$ref.split("/").pop() : "schema"]),
      el("pre", {}, [JSON.stringify(resolve(doc, schema), null, 2)])]);
  }
  fetch("/openapi.json").then(function (r) { return r.json(); }).then(function (doc) {
    document.getElementById("title").textContent = doc.info.title + " " + doc.info.version;
    document.getElementById("desc").textContent = doc.info.description;
    var toc = document.getElementById("toc"), ops = document.getElementById("ops");
    ops.textContent = "";
    Object.keys(doc.paths).sort().forEach(function (path) {
      Object.keys(doc.paths[path]).forEach(function (method) {
        var op = doc.paths[path][method], id = op.operationId || method + path;
        toc.append(el("a", { href: "#" + id }, [method.toUpperCase() + " " + path]));
        var s = el("section", { id: id }, [el("h3", {}, [el("span", { "class": "m " + method }, [method]), el("code", {}, [path]),
          el("span", { "class": "scope" }, [op["x-required-scope"] ? "scope: " + op["x-required-scope"] : "public"])]),
          el("p", {}, [op.summary || ""]), el("p", {}, [op.description || ""])]);
        var params = (op.parameters || []).map(function (p) { return resolve(doc, p); });
        if (params.length) {
          var t = el("table", {}, [el("tr", {}, [el("th", {}, ["parameter"]), el("th", {}, ["in"]), el("th", {}, ["schema"]), el("th", {}, ["description"])])]);
          params.forEach(function (p) {
            t.append(el("tr", {}, [el("td", {}, [el("code", {}, [p.name + (p.required ? " *" : "")])]), el("td", {}, [p.in]),
              el("td", {}, [el("code", {}, [JSON.stringify(p.schema || {})])]), el("td", {}, [p.description || ""])]));
          });
          s.append(t);
        }
        if (op.requestBody) {
          var c = op.requestBody.content || {};
          Object.keys(c).forEach(function (ct) { s.append(el("p", {}, ["Body (" + ct + "):"]), schemaBlock(doc, c[ct].schema || {})); });
        }
        Object.keys(op.responses || {}).forEach(function (code) {
          var resp = op.responses[code], rr = resolve(doc, resp), content = rr.content || {};
          var d = el("div", {}, [el("strong", {}, [code]), " " + (resp.description || rr.description || "")]);
          Object.keys(content).forEach(function (ct) { if (content[ct].schema) { d.append(schemaBlock(doc, content[ct].schema)); } });
          s.append(d);
        });
        ops.append(s);
      });
    });
  }).catch(function (e) { document.getElementById("ops").textContent = "Cannot load /openapi.json: " + e; });
})();
