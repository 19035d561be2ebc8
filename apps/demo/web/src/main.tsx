import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { App } from './App.js';
import './styles.css';

const root = document.getElementById('root');
if (root)
  createRoot(root).render(
    <StrictMode>
      <App />
    </StrictMode>,
  );

// The service worker precaches the app shell for offline use; it never caches /api (see sw.ts).
if ('serviceWorker' in navigator) void navigator.serviceWorker.register('/sw.js', { scope: '/' });
