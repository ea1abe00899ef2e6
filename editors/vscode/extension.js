// Starts `rxpolicy lsp` for rule files (*.rxp): the server does all the work, this only connects it.
"use strict";
const vscode = require("vscode");
const { LanguageClient, TransportKind } = require("vscode-languageclient/node");

let client;

function serverCommand() {
  const settings = vscode.workspace.getConfiguration("rxpolicy");
  const folder = vscode.workspace.workspaceFolders ? vscode.workspace.workspaceFolders[0].uri.fsPath : "";
  const command = settings.get("server.command", "rxpolicy").replace("${workspaceFolder}", folder);
  const args = [...settings.get("server.args", ["lsp"])];
  const handbook = settings.get("handbookUrl", "");
  if (handbook) {
    args.push("--handbook-url", handbook);
  }
  return { command, args, transport: TransportKind.stdio };
}

function activate(context) {
  const server = serverCommand();
  client = new LanguageClient("rxpolicy", "rxpolicy", { run: server, debug: server }, {
    documentSelector: [{ scheme: "file", language: "rxpolicy" }],
  });
  context.subscriptions.push(vscode.workspace.onDidChangeConfiguration(async (event) => {
    if (event.affectsConfiguration("rxpolicy") && client) {
      await client.stop();
      client = new LanguageClient("rxpolicy", "rxpolicy", { run: serverCommand(), debug: serverCommand() }, {
        documentSelector: [{ scheme: "file", language: "rxpolicy" }],
      });
      await client.start();
    }
  }));
  return client.start();
}

function deactivate() {
  return client ? client.stop() : undefined;
}

module.exports = { activate, deactivate };
