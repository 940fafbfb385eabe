// Entry of the console bundle. window.coffer is already defined by then: by the Electron preload
// (contextBridge) or by the browser bridge (web-bridge.js, loaded before this script).
import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { App } from './App.js';
import './app.css';

const root = document.getElementById('root');
if (!root) throw new Error('index.html has no #root element');
createRoot(root).render(
  <StrictMode>
    <App />
  </StrictMode>,
);
