// Starts `cf lsp` for Python and shell files; the server does the rest (see docs/editors.md).
import * as vscode from "vscode";
import { LanguageClient, LanguageClientOptions, ServerOptions, TransportKind } from "vscode-languageclient/node";

let client: LanguageClient | undefined;

function serverSettings(): Record<string, unknown> {
  const config = vscode.workspace.getConfiguration("codefusion");
  return {
    model: config.get("model"),
    models: config.get("models"),
    steps: config.get("steps"),
    topK: config.get("topK"),
    languages: config.get("languages"),
    device: config.get("device"),
    seed: config.get("seed"),
  };
}

async function start(context: vscode.ExtensionContext): Promise<void> {
  const [command, ...args] = vscode.workspace.getConfiguration("codefusion").get<string[]>("command") ?? ["cf", "lsp"];
  const serverOptions: ServerOptions = { command, args, transport: TransportKind.stdio };
  const clientOptions: LanguageClientOptions = {
    documentSelector: [
      { scheme: "file", language: "python" },
      { scheme: "file", language: "shellscript" },
      { scheme: "untitled", language: "python" },
      { scheme: "untitled", language: "shellscript" },
    ],
    initializationOptions: serverSettings(),
    // Sends {"codefusion": {...}} on every change of these settings; the server reads that shape.
    synchronize: { configurationSection: "codefusion" },
  };
  client = new LanguageClient("codefusion", "CodeFusion", serverOptions, clientOptions);
  client.registerProposedFeatures(); // textDocument/inlineCompletion (LSP 3.18) is "proposed" in client 9.x
  await client.start();
  context.subscriptions.push(client);
}

export async function activate(context: vscode.ExtensionContext): Promise<void> {
  context.subscriptions.push(
    vscode.commands.registerCommand("codefusion.restart", async () => {
      await client?.stop();
      await start(context);
    }),
    // A new command line needs a new process; other settings reach the running server.
    vscode.workspace.onDidChangeConfiguration(async (event) => {
      if (event.affectsConfiguration("codefusion.command")) {
        await vscode.commands.executeCommand("codefusion.restart");
      }
    }),
  );
  await start(context);
}

export async function deactivate(): Promise<void> {
  await client?.stop();
}
