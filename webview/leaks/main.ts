/**
 * Entry point of the Leaks panel bundle (out/webview/leaks.js); its markup
 * is renderLeaksHtml in ../html.ts.
 */
import { LeaksApp } from './app';

new LeaksApp();
